// The web wallet's service worker: shows what the deployment pushes (RFC 8030; the
// browser has decrypted it, RFC 8291) as a notification, and opens the wallet when it is
// clicked. Served at /wallet-app/sw.js, its scope the wallet's page.
const TEXTS = {
  en: {
    revoked: "Revoked by its issuer",
    suspended: "Suspended by its issuer",
    reinstated: "Valid again",
    expiring_soon: "Expires soon",
    expired: "Expired",
    deferred_ready: "Arrived: the credential you asked for",
    device_added: "A device was added to your wallet",
  },
  de: {
    revoked: "Vom Aussteller widerrufen",
    suspended: "Vom Aussteller gesperrt",
    reinstated: "Wieder gültig",
    expiring_soon: "Läuft bald ab",
    expired: "Abgelaufen",
    deferred_ready: "Eingetroffen: der beantragte Nachweis",
    device_added: "Ein Gerät wurde Ihrer Wallet hinzugefügt",
  },
};

self.addEventListener("push", (event) => {
  let message = {};
  try {
    message = event.data ? event.data.json() : {};
  } catch {
    message = {};
  }
  const texts = TEXTS[(self.navigator.language || "en").slice(0, 2)] || TEXTS.en;
  const title = texts[message.kind] || "idwallet";
  event.waitUntil(self.registration.showNotification(title, {
    body: message.credential || "",
    tag: message.notification_id,
    data: { url: "/wallet-app" },
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(self.clients.openWindow(event.notification.data?.url || "/wallet-app"));
});
