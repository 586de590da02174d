// The citizen's notifications in the web wallet: the feed of the mobile API, new ones live
// from its server-sent events (read with fetch, so the access token travels in a header;
// the stream ends when the token would expire, and is opened again with a fresh one), and
// Web Push where the citizen opts in: a service worker (wallet-sw.js, served at
// /wallet-app/sw.js) subscribes with the deployment's VAPID key and shows the pushed
// notifications while the wallet is closed.
import { t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const RETRY_MS = 5000;
const RETRY_MAX_MS = 5 * 60 * 1000;
const PUSH_KEY = "idwallet.push";
let following = null;
let unread = 0;

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function noticeText(notice) {
  return `${t(`notice.${notice.kind}`)}${notice.credential ? `: ${notice.credential}` : ""}`;
}

function setUnread(count) {
  unread = count;
  $("notices-unread").textContent = String(count);
}

function showNotice(notice, newest) {
  // the stream may repeat what the feed showed a moment before
  const list = $("notices-list");
  for (const shown of list.children) if (shown.dataset.notification === notice.notification_id) return false;
  const item = document.createElement("li");
  item.dataset.notification = notice.notification_id;
  if (notice.unread) item.className = "unread";
  const when = new Date(notice.at * 1000).toLocaleString(document.documentElement.lang);
  item.textContent = `${when}: ${noticeText(notice)}`;
  if (newest) list.prepend(item);
  else list.append(item);
  $("notices-none").hidden = true;
  return true;
}

// The newest notifications and the unread count.
export async function loadNotices(call) {
  const feed = await call("GET", "/wallet/notifications?limit=10");
  $("notices-list").replaceChildren();
  for (const notice of feed.notifications) showNotice(notice, false);
  $("notices-none").hidden = feed.notifications.length > 0;
  setUnread(feed.unread);
  $("notices").hidden = false;
}

// Each event of the stream: the notification shown at the top, as it arrives. `relogin`
// gives a fresh access token when the stream ended or the token was refused (false: the
// device can no longer sign in, and the following stops). Failures are retried after a
// pause that doubles each time, up to five minutes.
export async function followNotices(send, relogin, onNotice) {
  following?.abort();
  const controller = new AbortController();
  following = controller;
  let failures = 0;
  const pause = () => sleep(Math.min(RETRY_MS * 2 ** Math.min(failures++, 10), RETRY_MAX_MS));
  while (!controller.signal.aborted) {
    try {
      const response = await send("/wallet/notifications/stream", {
        signal: controller.signal, headers: { "Accept": "text/event-stream" },
      });
      if (response.status === 401) {
        if (!(await relogin())) return;
        await pause();
        continue;
      }
      if (!response.ok || !response.body) throw new Error(String(response.status));
      failures = 0;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, "\n");
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const lines = block.split("\n");
          if (!lines.includes("event: notification")) continue;
          const data = lines.filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("");
          const notice = JSON.parse(data);
          if (!showNotice(notice, true)) continue;
          setUnread(unread + 1);
          onNotice?.(notice);
        }
      }
      if (!(await relogin())) return; // the stream ended with the token's lifetime
    } catch (error) {
      if (controller.signal.aborted) return;
      await pause();
    }
  }
}

export function stopNotices() {
  following?.abort();
  following = null;
}

export async function markAllRead(call) {
  const { unread: left } = await call("POST", "/wallet/notifications/read-all");
  setUnread(left);
  for (const item of $("notices-list").children) item.classList.remove("unread");
}

function keyBytes(b64url) {
  const text = atob(b64url.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

// Web Push, when the citizen asks for it: the service worker registered for the wallet's
// page, subscribed with the deployment's key, and the subscription handed to the API.
export async function subscribePush(call) {
  const state = $("push-state");
  try {
    if (!("serviceWorker" in navigator) || !("PushManager" in window)) throw new Error("no Push API");
    if ((await Notification.requestPermission()) !== "granted") throw new Error("not permitted");
    const registration = await navigator.serviceWorker.register("/wallet-app/sw.js", { scope: "/wallet-app" });
    await navigator.serviceWorker.ready;
    const { application_server_key: key } = await call("GET", "/wallet/push-subscriptions/server-key");
    const subscription = await registration.pushManager.subscribe({
      userVisibleOnly: true, applicationServerKey: keyBytes(key),
    });
    const { subscription_id: id } = await call("POST", "/wallet/push-subscriptions", subscription.toJSON());
    localStorage.setItem(PUSH_KEY, id);
    state.textContent = t("notices.pushOn");
  } catch {
    state.textContent = t("notices.pushUnavailable");
  }
}

// This browser's push subscription ended (the account is deleted, the citizen signs out):
// removed from the wallet while the session still can, and unsubscribed at the browser.
export async function unsubscribePush(call) {
  const id = localStorage.getItem(PUSH_KEY);
  localStorage.removeItem(PUSH_KEY);
  if (id) await call("DELETE", `/wallet/push-subscriptions/${encodeURIComponent(id)}`).catch(() => {});
  if (!("serviceWorker" in navigator)) return;
  const registration = await navigator.serviceWorker.getRegistration("/wallet-app").catch(() => null);
  const subscription = await registration?.pushManager.getSubscription().catch(() => null);
  await subscription?.unsubscribe().catch(() => {});
}
