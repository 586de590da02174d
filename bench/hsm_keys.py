"""Keys in a hardware security module (PKCS#11; SoftHSM2 here) beside keys in software,
in the same run on the same machine:

1. ES256 and ES384 signatures, raw (``Pkcs11Token.sign_digest`` against ``cryptography``)
   and through the ``Signer`` a JWS is signed with (``Pkcs11Signer`` against
   ``SoftwareSigner``), over the same data, in interleaved rounds (median).
2. Holder keys at national scale: one token object per key (generated with ``store=True``;
   a key's first signature in the session has to find it among the token's objects) as
   the token grows, against keys kept outside the token wrapped by one key inside it
   (``generate_wrapped_key``, ``sign_with_wrapped_key``) as their number grows.
3. Complete issuances over HTTP (``bench.http_issuance``'s driver) on two real
   ``idwallet serve`` workers, one with the agencies' keys in the token
   (``IDWALLET_KEY_PROVIDER_AGENCY=pkcs11``), one with them in software, taking turns.

Run by ``make bench``, or alone with ``python -m bench.hsm_keys`` (which rewrites its own
section of ``docs/benchmarks.md``)."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from bench.cpu_time import CpuWatch, wait_until_idle, watching
from bench.http_issuance import LoadResult, fresh_server, measure_issuances
from bench.measure import Measurement, measure_together
from bench.sections import splice_section
from bench.softhsm import SoftHsm, softhsm, softhsm_module, token_parent
from core.jose.algorithms import SIGNATURE_ALGORITHMS
from core.jose.errors import InvalidSignature
from core.jose.jwk import public_key_from_jwk
from core.keys.pkcs11_token import Pkcs11Config, Pkcs11Token
from core.keys.pkcs11_vault import Pkcs11Signer, Pkcs11Vault, digest_of, public_key_of_point
from core.keys.signer import SoftwareSigner

HEADING = "## Keys in a hardware security module (PKCS#11)"
ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "benchmarks.md"

#: What is signed: 1 KiB, about the signing input of an issuer-signed SD-JWT VC.
DATA = bytes(random.Random(1).randbytes(1024))
CURVES = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1()}
#: Rounds in which every signature operation takes its turn (the median round counts).
SIGNATURE_ROUNDS = 15

#: Objects in the token at which one-object-per-key holder keys are measured (two objects,
#: public and private, per key); growth stops early when populating the next step would
#: take longer than ``POPULATE_BUDGET`` seconds at the rate measured, or a key's first
#: signature already takes ``SLOW`` seconds.
OBJECT_STEPS = (100, 1_000, 5_000)
POPULATE_BUDGET = 60.0
SLOW = 0.25
#: Signatures by keys not used before: batches (the median batch counts) of this size.
BATCHES, BATCH = 5, 8
WRAPPING = "holder-keys"

#: Complete issuances: rounds in which the two servers take turns (the median counts), and
#: the issuances of a round by the number of wallets.
ROUNDS, COUNTS = 3, {1: 50, 64: 256}
SOFTWARE, TOKEN = "software", "PKCS#11 token"


@dataclass(frozen=True)
class SignatureRow:
    alg: str
    level: str
    token: Measurement
    software: Measurement

    @property
    def ratio(self) -> float:
        return self.token.seconds_per_op / self.software.seconds_per_op


@dataclass(frozen=True)
class HolderStep:
    approach: str
    keys: int
    objects: int
    #: keys generated per second on the way to this step
    generated_per_second: float
    #: median µs of a key's first signature in the session (found, signed, checked)
    first_us: float
    #: median µs of the same keys' next signature (their handles known), where kept
    again_us: float | None = None


@dataclass(frozen=True)
class IssuanceRuns:
    """One server's rounds at one number of wallets: complete issuances and the trivial
    endpoint, each round's ``LoadResult``."""

    keys: str
    concurrency: int
    issued: list[LoadResult] = field(default_factory=list)
    health: list[LoadResult] = field(default_factory=list)

    @property
    def rates(self) -> list[float]:
        return [r.per_second for r in self.issued]

    @property
    def p50_ms(self) -> float:
        return statistics.median(r.percentile(0.5) for r in self.issued)

    @property
    def cpu_ms(self) -> float | None:
        """The worker's CPU per issuance, median of the rounds."""
        cpus = [_cpu_ms(r) for r in self.issued if r.cpu is not None]
        return statistics.median(cpus) if cpus else None


def _cpu_ms(load: LoadResult) -> float:
    return 0.0 if load.cpu is None else load.cpu.workers / load.completed * 1000


@dataclass
class HsmResults:
    token_place: str
    signatures: list[SignatureRow] = field(default_factory=list)
    objects: list[HolderStep] = field(default_factory=list)
    wrapped: list[HolderStep] = field(default_factory=list)
    stopped: str | None = None
    database: str = ""
    issuance: list[IssuanceRuns] = field(default_factory=list)
    agency_key_location: str | None = None
    load: tuple[float, float] = (0.0, 0.0)
    #: wall seconds of each part
    seconds: dict[str, float] = field(default_factory=dict)
    unavailable: str | None = None
    issuance_failure: str | None = None


def _median_per_call(batches: Sequence[Sequence[Callable[[], object]]]) -> float:
    """Seconds per call of the median batch (garbage collected before, and off during,
    each)."""
    times = []
    for batch in batches:
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            for call in batch:
                call()
            times.append((time.perf_counter() - start) / len(batch))
        finally:
            gc.enable()
    return statistics.median(times)


def _batches(calls: Sequence[Callable[[], object]]) -> list[Sequence[Callable[[], object]]]:
    return [calls[i * BATCH : (i + 1) * BATCH] for i in range(BATCHES)]


def _verifier(alg: str, public: ec.EllipticCurvePublicKey) -> Callable[[bytes], bool]:
    algorithm = SIGNATURE_ALGORITHMS[alg]

    def verifies(signature: bytes) -> bool:
        try:
            algorithm.verify(public, signature, DATA)
        except InvalidSignature:
            return False
        return True

    return verifies


# -- 1. signatures -------------------------------------------------------------------------


def _signature_operations(
    token: Pkcs11Token, alg: str
) -> dict[tuple[str, str, str], Callable[[], bytes]]:
    vault = Pkcs11Vault(token)
    record = vault.new_key("bench:signatures", alg, time.time())
    key_id = bytes.fromhex(record.key_reference)
    in_token = vault.signer(record)
    software_key = ec.generate_private_key(CURVES[alg])
    software = SoftwareSigner(software_key)
    algorithm = SIGNATURE_ALGORITHMS[alg]
    assert algorithm.hash is not None
    ecdsa = ec.ECDSA(algorithm.hash())
    public = public_key_from_jwk(record.public_jwk)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    check = _verifier(alg, public)
    assert check(token.sign_digest(key_id, digest_of(algorithm, DATA))) and check(
        in_token.sign(DATA)
    )
    return {
        (alg, "raw", TOKEN): lambda: token.sign_digest(key_id, digest_of(algorithm, DATA)),
        (alg, "raw", SOFTWARE): lambda: software_key.sign(DATA, ecdsa),
        (alg, "Signer", TOKEN): lambda: in_token.sign(DATA),
        (alg, "Signer", SOFTWARE): lambda: software.sign(DATA),
    }


def measure_signatures(token: Pkcs11Token) -> list[SignatureRow]:
    operations: dict[tuple[str, str, str], Callable[[], bytes]] = {}
    for alg in CURVES:
        operations.update(_signature_operations(token, alg))
    named = {" ".join(key): operation for key, operation in operations.items()}
    measured = measure_together(named, rounds=SIGNATURE_ROUNDS, statistic=statistics.median)
    return [
        SignatureRow(
            alg, level, measured[f"{alg} {level} {TOKEN}"], measured[f"{alg} {level} {SOFTWARE}"]
        )
        for alg in CURVES
        for level in ("raw", "Signer")
    ]


# -- 2. holder keys ------------------------------------------------------------------------


def holder_keys_as_objects(token: Pkcs11Token) -> tuple[list[HolderStep], str | None]:
    """One token object per holder key, the token growing; why growth stopped early."""
    vault = Pkcs11Vault(token)
    steps: list[HolderStep] = []
    unused: list[Pkcs11Signer] = []
    keys = 0
    for objects in OBJECT_STEPS:
        wanted = (objects - token.count_objects()) // 2
        if steps and wanted / steps[-1].generated_per_second > POPULATE_BUDGET:
            return steps, (
                f"stopped at {steps[-1].objects:,} objects: {objects:,} would take "
                f"{wanted / steps[-1].generated_per_second:,.0f} s more to generate"
            )
        start = time.perf_counter()
        made = [vault.new_key("bench:holder", "ES256", time.time()) for _ in range(wanted)]
        rate = wanted / (time.perf_counter() - start)
        keys += wanted
        unused += [vault.signer(record) for record in made]
        random.shuffle(unused)
        unused.pop().sign(DATA)  # warm-up
        chosen, unused = unused[: BATCHES * BATCH], unused[BATCHES * BATCH :]
        calls = [partial(signer.sign, DATA) for signer in chosen]
        first = _median_per_call(_batches(calls))
        again = _median_per_call(_batches(calls))
        steps.append(
            HolderStep(
                "one object per key", keys, token.count_objects(), rate, first * 1e6, again * 1e6
            )
        )
        if first > SLOW:
            return (
                steps,
                f"stopped at {steps[-1].objects:,} objects: a signature took {first:.2f} s",
            )
    return steps, None


def holder_keys_wrapped(token: Pkcs11Token, counts: list[int]) -> list[HolderStep]:
    """Holder keys outside the token, wrapped by one key inside it, their number growing."""
    algorithm = SIGNATURE_ALGORITHMS["ES256"]
    keys: list[tuple[ec.EllipticCurvePublicKey, bytes]] = []
    steps = []
    for count in counts:
        start = time.perf_counter()
        wanted = count - len(keys)
        for _ in range(wanted):
            point, blob = token.generate_wrapped_key(WRAPPING, "P-256")
            keys.append((public_key_of_point(point, "P-256"), blob))
        rate = wanted / (time.perf_counter() - start)

        def signs(public: ec.EllipticCurvePublicKey, blob: bytes) -> Callable[[], object]:
            check = _verifier("ES256", public)
            return lambda: token.sign_with_wrapped_key(
                WRAPPING, blob, digest_of(algorithm, DATA), check
            )

        chosen = [signs(*key) for key in random.sample(keys, BATCHES * BATCH + 1)]
        chosen.pop()()  # warm-up
        first = _median_per_call(_batches(chosen))
        steps.append(HolderStep("wrapped", count, token.count_objects(), rate, first * 1e6))
    return steps


# -- 3. complete issuances -----------------------------------------------------------------


def _agency_key_location(env: dict[str, str]) -> str | None:
    shown = subprocess.run(
        [sys.executable, "-m", "app.cli", "keys", "show", "--owner", "issuer:civil-registry"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    active = [row for row in json.loads(shown.stdout) if row["retired_at"] is None]
    return str(active[0]["location"]) if len(active) == 1 else None


def measure_issuance(
    database: str, server_url: str | None, hsm: SoftHsm, label: str
) -> tuple[list[IssuanceRuns], str | None]:
    """Two servers, agency keys in software and in the token, taking turns; the location
    of the civil registry's active key on the token's server."""
    configurations = {
        SOFTWARE: {},
        TOKEN: {
            **hsm.env(),
            "IDWALLET_KEY_PROVIDER_AGENCY": "pkcs11",
            "IDWALLET_PKCS11_MODULE": hsm.module,
            "IDWALLET_PKCS11_TOKEN": label,
            "IDWALLET_PKCS11_PIN": hsm.pin,
        },
    }
    runs = {(name, c): IssuanceRuns(name, c) for name in configurations for c in COUNTS}
    with ExitStack() as stack:
        servers = {}
        for name, env in configurations.items():
            var_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="idwallet-hsm-")))
            database_name = "idwallet_bench_hsm_" + ("token" if env else "software")
            running = stack.enter_context(
                fresh_server(server_url, var_dir, database_name=database_name, env=env)
            )
            wait_until_idle([running.process.pid])
            # warm-up: the agency's key made (in the token or in software), caches filled
            asyncio.run(measure_issuances(running.base_url, var_dir, database, 8, 40))
            servers[name] = (running, var_dir)
        names = list(servers)
        for round_number in range(ROUNDS):
            for concurrency, count in COUNTS.items():  # the two back to back, in turn first
                for name in names if round_number % 2 == 0 else names[::-1]:
                    running, var_dir = servers[name]
                    watch = CpuWatch([running.process.pid], database=server_url is not None)
                    with watching(watch):
                        issued, health = asyncio.run(
                            measure_issuances(
                                running.base_url, var_dir, database, concurrency, count
                            )
                        )
                    runs[(name, concurrency)].issued.append(issued)
                    runs[(name, concurrency)].health.append(health)
        location = _agency_key_location(servers[TOKEN][0].env)
    return list(runs.values()), location


# -- the run -------------------------------------------------------------------------------


@contextmanager
def _affinity(cpus: set[int]) -> Iterator[None]:
    """This process on ``cpus`` while it runs (where the platform allows)."""
    if not hasattr(os, "sched_getaffinity"):
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus & before or before)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


@contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def run(databases: dict[str, str | None]) -> HsmResults:
    """The three parts; complete issuances on PostgreSQL where ``databases`` has it (the
    production database), on SQLite otherwise."""
    load = os.getloadavg()[0]
    results = HsmResults(token_place=token_parent() or tempfile.gettempdir())
    module = softhsm_module()
    if module is None:
        results.unavailable = "SoftHSM2 is not installed and could not be installed"
        return results
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    # the module reads SOFTHSM2_CONF once, when this process first uses it
    with softhsm(module) as hsm, _environ("SOFTHSM2_CONF", str(hsm.conf)), _affinity({cpus[0]}):
        for label in ("signatures", "objects", "wrapped"):
            hsm.new_token(label)

        def token(label: str) -> Pkcs11Token:
            return Pkcs11Token(Pkcs11Config(module, label, pin=hsm.pin))

        started = time.perf_counter()
        results.signatures = measure_signatures(token("signatures"))
        results.seconds["signatures"] = time.perf_counter() - started
        results.objects, results.stopped = holder_keys_as_objects(token("objects"))
        counts = [step.keys for step in results.objects]
        counts += [objects // 2 for objects in OBJECT_STEPS[len(counts) :]]
        results.wrapped = holder_keys_wrapped(token("wrapped"), counts)
        results.seconds["holder keys"] = (
            time.perf_counter() - started - sum(results.seconds.values())
        )
    results.database = "PostgreSQL" if databases.get("PostgreSQL") else "SQLite"
    with softhsm(module) as hsm, _affinity({cpus[-1]}):  # the servers go on the first CPU
        label = hsm.new_token("idwallet")
        try:
            results.issuance, results.agency_key_location = measure_issuance(
                results.database, databases.get(results.database), hsm, label
            )
        except Exception as failure:  # reported in the section, as it failed
            results.issuance_failure = f"{type(failure).__name__}: {failure}"[:2000]
    results.seconds["issuances"] = time.perf_counter() - started - sum(results.seconds.values())
    results.load = (load, os.getloadavg()[0])
    return results


# -- the section ---------------------------------------------------------------------------


def _ms(us: float) -> str:
    return f"{us / 1000:,.2f}"


def _signature_table(rows: list[SignatureRow]) -> list[str]:
    lines = [
        "| signature | token µs | software µs | token ÷ software | token per second "
        "| software per second |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        token, software = row.token, row.software
        lines.append(
            f"| {row.alg} {row.level} | {token.microseconds:,.1f} | {software.microseconds:,.1f} "
            f"| {row.ratio:,.1f} | {token.ops_per_second:,.0f} | {software.ops_per_second:,.0f} |"
        )
    return lines


def _holder_table(steps: list[HolderStep]) -> list[str]:
    lines = [
        "| approach | holder keys | objects in the token | generated per second "
        "| first signature ms | again ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for step in steps:
        again = "–" if step.again_us is None else _ms(step.again_us)
        lines.append(
            f"| {step.approach} | {step.keys:,} | {step.objects:,} "
            f"| {step.generated_per_second:,.0f} | {_ms(step.first_us)} | {again} |"
        )
    return lines


def _conclusion(objects: list[HolderStep], wrapped: list[HolderStep]) -> list[str]:
    low, high = objects[0], objects[-1]
    per_object = (high.first_us - low.first_us) / (high.objects - low.objects)
    made = sorted(step.generated_per_second for step in objects)
    unwrapped = sorted(step.generated_per_second for step in wrapped)
    signed = sorted(step.first_us for step in wrapped)
    again = high.again_us or 0.0
    return [
        "**Holder keys: wrapped, not one token object each.** With one object per key, a",
        f"key's first signature took {_ms(low.first_us)} ms at {low.objects:,} objects and "
        f"{_ms(high.first_us)} ms at {high.objects:,}:",
        "finding it (`C_FindObjects` by `CKA_ID`) walks the token's objects, about "
        f"{per_object:,.0f} µs each",
        f"here, some {per_object * 20_000_000 / 1e6:,.0f} s per signature at 10 million "
        "citizens (20 million objects) if it",
        f"kept growing so. A key already found signs again in {_ms(again)} ms, but a worker "
        "meets any one",
        "citizen's key rarely, and remembering every handle would grow with the population.",
        f"Keys were generated as objects at {made[0]:,.0f} to {made[-1]:,.0f} per second, "
        "and a hardware module's object",
        "storage is bounded, far below a national population. Wrapped keys were generated at",
        f"{unwrapped[0]:,.0f} to {unwrapped[-1]:,.0f} per second and signed in "
        f"{_ms(signed[0])} to {_ms(signed[-1])} ms with {wrapped[0].keys:,} keys as with "
        f"{wrapped[-1].keys:,}",
        f"(about {statistics.median(signed) / again:,.0f} times a found key's signature: the "
        "unwrap into a session object,",
        "its destruction and the check of every signature), the same for any number of keys:",
        "the token holds one wrapping key whatever the number of citizens, and the blobs are",
        "kept with the wallet's records.",
    ]


def _issuance_table(runs: list[IssuanceRuns], database: str) -> list[str]:
    lines = [
        "| agency keys | database | wallets | issuances per second (rounds) | p50 ms "
        "| worker CPU ms per issuance | GET /health per second |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run_ in sorted(runs, key=lambda r: (r.concurrency, r.keys != SOFTWARE)):
        rates = sorted(run_.rates)
        cpu = "–" if run_.cpu_ms is None else f"{run_.cpu_ms:,.2f}"
        health = statistics.median(r.per_second for r in run_.health)
        lines.append(
            f"| {run_.keys} | {database} | {run_.concurrency} | {statistics.median(rates):,.1f} "
            f"({rates[0]:,.1f} to {rates[-1]:,.1f}) | {run_.p50_ms:,.1f} | {cpu} | {health:,.0f} |"
        )
    by_key = {(r.keys, r.concurrency): r for r in runs}
    parts, trivial, ratios = [], [], []
    for concurrency in COUNTS:
        software, token = by_key[(SOFTWARE, concurrency)], by_key[(TOKEN, concurrency)]
        pairs = list(zip(token.issued, software.issued, strict=True))
        ratios.append(statistics.median(t.per_second / s.per_second for t, s in pairs))
        part = f"{concurrency} wallet{'s' if concurrency > 1 else ''}: {ratios[-1]:.2f}× the rate"
        cpus = [_cpu_ms(t) - _cpu_ms(s) for t, s in pairs if t.cpu and s.cpu]
        if cpus:
            part += f", {statistics.median(cpus):+.2f} ms of worker CPU per issuance"
        parts.append(part)
        same = zip(token.health, software.health, strict=True)
        trivial.append(statistics.median(t.per_second / s.per_second for t, s in same))
    noise = max(abs(ratio - 1) for ratio in trivial)
    within = all(abs(ratio - 1) <= noise for ratio in ratios)
    return [
        *lines,
        "",
        "Agency keys in the token against software, the median of the rounds' own ratios and",
        f"differences: {'; '.join(parts)}. In the same rounds `GET /health`, the same code on",
        f"both servers, came out at {' and '.join(f'{r:.2f}×' for r in trivial)}: the issuance "
        + ("ratios are within" if within else "ratios are not all within")
        + " the spread this shared machine gives the same code.",
    ]


def section(results: HsmResults) -> list[str]:
    """The section of ``docs/benchmarks.md``; it renders on its own."""
    memory = " (memory)" if results.token_place.startswith("/dev/shm") else ""
    lines = [
        HEADING,
        "",
        "SoftHSM2 (Debian's `softhsm2`, file object store) through `python-pkcs11`, beside",
        "keys in software (`cryptography`), in the same run on the same machine, whose load",
        f"average was {results.load[0]:.1f} before and {results.load[1]:.1f} after "
        f"({os.cpu_count()} CPUs, shared with other work). The token",
        f"directory is in `{results.token_place}`{memory}: SoftHSM2 rewrites an object's file "
        "on every change, and",
        "in trial runs on this machine's disk, generating keys as objects was 3 to 30 times",
        "slower from one run to the next: it measured the disk.",
    ]
    if results.unavailable:
        return [*lines, "", f"Not measured: {results.unavailable}."]
    lines += [
        "",
        "Signatures over the same 1 KiB (about an issuer-signed SD-JWT VC's signing input), by",
        "one key of each curve made in the token and one in software, each in a calibrated",
        f"loop, all in turn for {SIGNATURE_ROUNDS} rounds, the median round. Raw: "
        "`Pkcs11Token.sign_digest`",
        "(SHA-2 here, `CKM_ECDSA` in the token) against `cryptography`'s ECDSA sign. Signer:",
        "what a JWS signature costs, `Pkcs11Signer.sign` against `SoftwareSigner.sign`.",
        "",
        *_signature_table(results.signatures),
        "",
        "Holder keys (ES256). One object per key: generated in the token as objects",
        "(`store=True`, public and private), then signatures by keys not used before in the",
        "session (found by `CKA_ID`, signed, the signature checked against the key on record",
        "as `Pkcs11Signer` does a key's first) and by the same keys again (their handles",
        "known). Wrapped: generated in the token and exported only wrapped",
        "(`CKM_AES_KEY_WRAP_PAD`); each signature unwraps one into a session object, signs,",
        f"destroys it and checks the signature. Random keys, {BATCHES} batches of {BATCH}, "
        "the median batch.",
        "",
        *_holder_table(results.objects + results.wrapped),
    ]
    if results.stopped:
        lines += ["", f"One object per key: {results.stopped}."]
    if len(results.objects) > 1 and results.wrapped:
        lines += ["", *_conclusion(results.objects, results.wrapped)]
    lines += [
        "",
        "Complete issuances (token + nonce + credential of the national ID, the driver of",
        "*Issuance over HTTP*) on two `idwallet serve` workers, one with the agencies' keys",
        "in the token (`IDWALLET_KEY_PROVIDER_AGENCY=pkcs11` with the `IDWALLET_PKCS11_*`",
        "variables; the module runs in the worker), one with them in software, each on a",
        f"freshly migrated {results.database} database of its own, pinned to the first CPU, "
        "the load",
        "generator on the other. After a warm-up they take turns for "
        f"{ROUNDS} rounds ({', '.join(f'{n} issuances' for n in COUNTS.values())}",
        f"at {' and '.join(str(c) for c in COUNTS)} wallets); medians, and the rounds' range. "
        "Worker CPU is read from `/proc`.",
        "",
    ]
    if results.issuance_failure:
        return [*lines, f"Not measured: {results.issuance_failure}"]
    lines += [
        *_issuance_table(results.issuance, results.database),
        "The civil registry's active key on the token's server is kept in "
        f"`{results.agency_key_location}` (`idwallet keys show`).",
    ]
    es256 = [r for r in results.signatures if (r.alg, r.level) == ("ES256", "Signer")]
    busiest = max(COUNTS)
    software = [r for r in results.issuance if (r.keys, r.concurrency) == (SOFTWARE, busiest)]
    if es256 and software and software[0].cpu_ms:
        extra = es256[0].token.microseconds - es256[0].software.microseconds
        lines += [
            f"An issuance here signs one credential with the agency's key: {extra:,.0f} µs more "
            "in the token",
            f"(the ES256 Signer row above), {extra / 10 / software[0].cpu_ms:.1f}% of the "
            f"worker's CPU per issuance in software at {busiest} wallets.",
        ]
    return lines


def _databases() -> dict[str, str | None]:
    """SQLite, and PostgreSQL where ``IDWALLET_BENCH_POSTGRES_URL`` (or the local default)
    answers."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url = os.environ.get(
        "IDWALLET_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    async def answers() -> bool:
        try:
            connection = await asyncpg.connect(dsn, timeout=5)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await connection.close()
        return True

    return {"SQLite": None, **({"PostgreSQL": url} if asyncio.run(answers()) else {})}


def main() -> int:
    """This benchmark alone; prints its section and writes it into ``docs/benchmarks.md``
    (``python -m bench.hsm_keys``)."""
    started = time.perf_counter()
    results = run(_databases())
    lines = section(results)
    print("\n".join(lines))
    document = OUTPUT.read_text(encoding="utf-8")
    OUTPUT.write_text(splice_section(document, lines, before="## Notes"), encoding="utf-8")
    parts = ", ".join(f"{name} {seconds:,.0f} s" for name, seconds in results.seconds.items())
    print(f"wrote its section into {OUTPUT} ({time.perf_counter() - started:,.0f} s: {parts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
