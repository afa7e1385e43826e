"""Settings: one TOML file per data folder over embedded defaults.

Every setting the hub knows is declared once in :data:`SETTINGS`, with its type,
default and meaning; ``docs/configuration.md`` documents the same list and a test
keeps the two in step. ``mssante-hub config get|set`` edits one dotted key while
keeping the file's comments (tomlkit), as Postfix's postconf does.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import tomlkit

CONFIG_FILE_NAME = "hub.toml"
MIB = 1024 * 1024
LOG_LEVELS = ("debug", "info", "warning", "error")  # admin/logs.py
LOG_FORMATS = ("text", "json")


class ConfigError(Exception):
    """A setting is unknown or its value is not acceptable."""


def _listen_address(value: str) -> None:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{value!r} is not HOST:PORT")


def _log_level(value: str) -> None:
    if value not in LOG_LEVELS:
        raise ConfigError(f"{value!r} is not a log level; choose among {', '.join(LOG_LEVELS)}")


def _log_format(value: str) -> None:
    if value not in LOG_FORMATS:
        raise ConfigError(f"{value!r} is not a log format; choose among {', '.join(LOG_FORMATS)}")


def _optional_listen_address(value: str) -> None:
    if value:
        _listen_address(value)


def _blob_store(value: str) -> None:
    if value not in ("database", "directory"):  # storage/blobstore.py KINDS (storage is below config)
        raise ConfigError("must be database or directory")


def _not_empty(value: str) -> None:
    if not value.strip():
        raise ConfigError("must not be empty")


def _positive(value: int) -> None:
    if value <= 0:
        raise ConfigError(f"{value} must be positive")


def _non_negative(value: int) -> None:
    if value < 0:
        raise ConfigError(f"{value} must not be negative")


def _networks(value: list) -> None:
    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError as exc:
            raise ConfigError(f"{item!r} is not a network such as 127.0.0.0/8") from exc


PROXY_LISTENERS = ("mx", "submission", "imap", "imaps")  # the TCP doors; the web has X-Forwarded-For


def _proxy_listeners(value: list) -> None:
    unknown = [item for item in value if item not in PROXY_LISTENERS]
    if unknown:
        raise ConfigError(f"{unknown!r}: PROXY protocol listeners are among {', '.join(PROXY_LISTENERS)}")


def _domain_sizes(value: list) -> None:
    for item in value:
        domain, sep, size = str(item).partition("=")
        if not sep or not domain.strip() or not size.isdigit():
            raise ConfigError(f"{item!r} is not domain=bytes")


def _routes(value: list) -> None:
    for item in value:
        domain, sep, hop = str(item).partition("=")
        if not sep or not domain.strip():
            raise ConfigError(f"{item!r} is not domain=host:port")
        _listen_address(hop)


def _dns_servers(value: list) -> None:
    for item in value:
        host = str(item).strip()
        if host.startswith("["):
            host = host[1:].partition("]")[0]
        elif host.count(":") == 1:
            host, _, port = host.partition(":")
            if not port.isdigit() or not 0 < int(port) <= 65535:
                raise ConfigError(f"{item!r} is not host or host:port")
        try:
            ipaddress.ip_address(host)
        except ValueError as exc:
            raise ConfigError(f"{item!r}: a name server is given by its IP address") from exc


@dataclass(frozen=True)
class Setting:
    key: str
    type: type
    default: Any
    doc: str
    check: Callable[[Any], None] | None = None


SETTINGS: tuple[Setting, ...] = (
    Setting("hub.domain", str, "hub.localhost", "Mail domain of the professionals' mailboxes."),
    Setting("hub.patient_domain", str, "patient.hub.localhost", "Mail domain of patient spaces (`<INS>@domain`)."),
    Setting("hub.hostname", str, "mx.hub.localhost", "Host name the hub gives in SMTP greetings and receipts."),
    Setting("hub.software_reference", str, "mssante-hub", "Value stamped in `X-MSS-NIL` on submitted mail."),
    Setting("log.level", str, "info",
            "Activity log on stderr: debug, info (listeners, sessions, deliveries, relay, jobs), warning or error. "
            "Never content nor secrets; `serve --log-level` wins.", _log_level),
    Setting("log.format", str, "text",
            "Activity log format: `text` (readable lines) or `json` (one JSON object a line: time, level, logger, "
            "pid, trace, message); `serve --log-format` wins.", _log_format),
    # 0 (one per core) since tests/test_workers.py and tests/test_several_hubs.py pass (issue 16).
    Setting("serve.workers", int, 0,
            "Processes `serve` runs, sharing the listening sockets and the database; 0 (the default): one per "
            "core. `serve --workers` wins; 1 runs everything in the one process (docs/operations.md).",
            _non_negative),
    Setting("metrics.listen", str, "",
            "Where Prometheus metrics are served (HOST:PORT, e.g. 127.0.0.1:9464); empty: `/metrics` on the web "
            "listener.", _optional_listen_address),
    Setting("storage.url", str, "", "SQLAlchemy URL; empty means SQLite file `hub.sqlite3` in the data folder."),
    Setting("storage.db_threads", int, 4, "Threads for blocking database reads.", _positive),
    Setting("storage.small_reads_on_loop", bool, True,
            "On SQLite, run reads known to be small (a few indexed rows) on the event loop's thread rather than "
            "the read pool, whose round trip costs more than they do; no effect on PostgreSQL."),
    Setting("storage.group_commit_window_ms", float, 0.0,
            "Extra wait for more deliveries before a commit; 0 takes what queued during the last commit.", _non_negative),
    Setting("storage.group_commit_max_batch", int, 256, "Most deliveries committed in one transaction.", _positive),
    Setting("storage.blob_store", str, "database",
            "Where message bodies' ciphertext lives: `database` (in the `blobs` rows) or `directory` (files in "
            "`storage.blob_dir`, e.g. a filesystem several hubs share).", _blob_store),
    Setting("storage.blob_dir", str, "blobs",
            "Directory of the `directory` blob store, relative to the data folder or absolute.", _not_empty),
    Setting("storage.blob_write_threads", int, 4,
            "Threads writing (and fsyncing) a commit batch's blob files in parallel, before the commit.", _positive),
    Setting("storage.blob_sweep_grace_s", int, 3600,
            "Age (seconds) a blob file with no row must reach before the sweeper deletes it; longer than any "
            "commit can take.", _positive),
    Setting("keys.master_key_file", str, "keys/master.key", "Master key file, relative to the data folder; mode 0600."),
    Setting("keys.master_key_env", str, "MSSANTE_HUB_MASTER_KEY",
            "Environment variable that, when set, holds the master key in hex and wins over the file."),
    Setting("tls.cert_file", str, "tls/cert.pem", "Server certificate chain (PEM), relative to the data folder."),
    Setting("tls.key_file", str, "tls/key.pem", "Server private key (PEM), mode 0600."),
    Setting("limits.max_message_bytes", int, 25 * MIB, "Largest message accepted, in bytes (25 MB).", _positive),
    Setting("limits.max_header_fields", int, 500, "Most header fields in one message or MIME part.", _positive),
    Setting("limits.max_header_bytes", int, 256 * 1024, "Largest header section of a message, in bytes.", _positive),
    Setting("limits.max_line_bytes", int, 998 + 2, "Longest line, CRLF included (RFC 5322: 998 + CRLF).", _positive),
    Setting("limits.max_mime_parts", int, 500, "Most MIME parts in one message.", _positive),
    Setting("limits.max_mime_depth", int, 20,
            "Deepest nesting of multiparts (and message/*); checked byte-level before the recursive parser (554 5.6.0).",
            _positive),
    Setting("limits.max_recipients", int, 100, "Most recipients of one message.", _positive),
    Setting("limits.parse_threads", int, 2,
            "Threads that parse and encrypt incoming messages over 64 KiB (smaller ones: the writer thread), "
            "and check document messages.", _positive),
    Setting("limits.parse_processes", int, 0,
            "Child processes that parse, check and encrypt incoming mail instead of threads (use the other cores); "
            "0 keeps that work in threads of the serving process.", _non_negative),
    Setting("auth.argon2_time_cost", int, 2, "Argon2id passes for password hashes.", _positive),
    Setting("auth.argon2_memory_kib", int, 64 * 1024, "Argon2id memory per hash, KiB.", _positive),
    Setting("auth.max_concurrent_hashes", int, 4,
            "Password hashes computed at once; bounds memory under a login storm.", _positive),
    Setting("auth.address_max_failures", int, 20,
            "Failed logins from one client address, whatever the logins, within a door's window, before that "
            "address is refused (SMTP, IMAP, webmail).", _positive),
    Setting("auth.login_lock_failures", int, 15,
            "Failed logins of one login from anywhere, within a door's window, before it is refused even from a "
            "new address (after the growing delays).", _positive),
    Setting("auth.failed_login_delay_s", float, 0.25,
            "Wait before checking a login that failed lately; doubles with each failure of that login.",
            _non_negative),
    Setting("auth.max_failed_login_delay_s", float, 8.0, "Longest such wait, seconds.", _non_negative),
    Setting("auth.max_checks_in_flight_per_login", int, 2,
            "Password checks of one login at once, from anywhere; further attempts wait for a slot "
            "(and meet the failures recorded meanwhile).", _positive),
    Setting("auth.max_checks_in_flight_per_address", int, 8,
            "Password checks from one client address at once, whatever the logins; further attempts wait.",
            _positive),
    Setting("auth.max_waiting_checks", int, 32,
            "Attempts waiting for a slot of one login (or one address); more are refused as busy, answered after 1 s "
            "(SMTP 454 4.7.0, IMAP NO [UNAVAILABLE], web 429).", _positive),
    Setting("audit.retention_days", int, 183, "Days audit events are kept (at least 6 months).", _positive),
    Setting("listen.mx", str, "127.0.0.1:2525", "SMTP for other operators and hospital systems (production: :25).",
            _listen_address),
    Setting("listen.submission", str, "127.0.0.1:5870", "SMTP submission for clients (production: :587).",
            _listen_address),
    Setting("listen.imap", str, "127.0.0.1:1430", "IMAP with STARTTLS (production: :143).", _listen_address),
    Setting("listen.imaps", str, "127.0.0.1:9930", "IMAP over implicit TLS (production: :993).", _listen_address),
    Setting("listen.web", str, "127.0.0.1:8080", "Patient webmail and JSON API (behind a TLS proxy in production).",
            _listen_address),
    Setting("listen.enabled", list, ["mx", "submission", "imap", "imaps", "web"],
            "Listeners that `serve` starts when no --listen is given."),
    # --- What mail clients are told (autoconfig, DNS SRV): the public side of the listeners ---
    Setting("public.imap_host", str, "",
            "Host name mail clients are given for IMAP (autoconfig, SRV records); empty: the imap/imaps listener's "
            "address, or `hub.hostname` when it binds every interface."),
    Setting("public.imap_port", int, 0, "IMAP (STARTTLS) port clients are given; 0: the imap listener's port.",
            _non_negative),
    Setting("public.imaps_port", int, 0, "IMAP over TLS port clients are given; 0: the imaps listener's port.",
            _non_negative),
    Setting("public.submission_host", str, "",
            "Host name mail clients are given for submission; empty: as for public.imap_host, from the submission "
            "listener."),
    Setting("public.submission_port", int, 0,
            "Submission (STARTTLS) port clients are given; 0: the submission listener's port.", _non_negative),
    # --- PROXY protocol behind a TCP load balancer (HAProxy `send-proxy-v2`, docs/operations.md) ---
    Setting("proxy.listeners", list, [],
            "Listeners (mx, submission, imap, imaps) that read a PROXY protocol v1/v2 header before anything else, "
            "and see the client it names; each connection to them must come from `proxy.trusted_sources`.",
            _proxy_listeners),
    Setting("proxy.trusted_sources", list, [],
            "Networks of the load balancers allowed to send that header (HAProxy's addresses); a connection from "
            "elsewhere to a PROXY listener is closed unanswered.", _networks),
    Setting("proxy.header_timeout_s", int, 10, "Seconds a PROXY listener waits for the header before closing.",
            _positive),
    Setting("mx.trusted_networks", list, [],
            "Networks whose systems may deliver to local mailboxes on mx without TLS or certificate.", _networks),
    # --- SMTP front doors, whitelist and outbound relay (issue 3: smtp/, directory/, relays/) ---
    Setting("mx.ca_files", list, [],
            "CA bundles (PEM) that peers' client certificates must chain to on mx (IGC-Santé)."),
    Setting("mx.crl_files", list, [],
            "CRLs (PEM or DER) of those CAs; a revoked certificate is refused; a bad CRL keeps the last good one."),
    Setting("mx.whitelist_file", str, "whitelist/listeblanche.xml",
            "The trust-space whitelist in use; written by `mssante-hub whitelist load`."),
    Setting("submission.client_ca_files", list, [],
            "CA bundles for client certificates of APP mailboxes (SASL EXTERNAL); empty disables EXTERNAL."),
    Setting("smtp.max_sessions_per_client", int, 20, "Concurrent SMTP sessions from one client address.", _positive),
    Setting("smtp.idle_timeout_s", int, 300, "Seconds of silence after which an SMTP session is closed.", _positive),
    Setting("smtp.max_failed_logins", int, 5,
            "Failed SMTP logins from one address, within the window, before it is turned away.", _positive),
    Setting("smtp.failed_login_window_s", int, 900, "Window of the failed-login count, seconds.", _positive),
    Setting("smtp.max_junk_commands", int, 100,
            "Commands that move no mail (NOOP, RSET, HELO/EHLO, HELP, VRFY, EXPN) in one SMTP session before 421.",
            _positive),
    Setting("smtp.max_errors", int, 20, "Error replies (4xx/5xx) in one SMTP session before 421.", _positive),
    Setting("smtp.data_timeout_s", int, 600,
            "Seconds one DATA may take from 354 to its final dot, whatever the pace (451 4.4.2 and close).", _positive),
    Setting("smtp.max_buffered_bytes", int, 256 * MIB,
            "Message bytes both SMTP doors hold at once in DATA, all sessions together; past it, 452 4.3.1.",
            _positive),
    Setting("smtp.destination_size_limits", list, [],
            "Per-domain size limits, entries `domain=bytes`; other domains use limits.max_message_bytes.",
            _domain_sizes),
    Setting("auth.oauth_jwks_file", str, "",
            "JWKS file of the OpenID provider (Pro Santé Connect); empty disables XOAUTH2 and OAUTHBEARER."),
    Setting("auth.oauth_issuer", str, "", "Required `iss` of bearer tokens."),
    Setting("auth.oauth_audience", str, "", "Required `aud` of bearer tokens."),
    Setting("relay.enabled", bool, True, "Run the outbound relay worker in `serve`."),
    Setting("relay.routes", list, [],
            "Next hops, entries `domain=host:port`; `*=host:port` for any other domain. No route: not deliverable.",
            _routes),
    Setting("relay.ca_files", list, [],
            "CA bundles the remote operators' server certificates must chain to; empty means mx.ca_files."),
    Setting("relay.retry_schedule_s", list, [60, 300, 900, 1800, 3600],
            "Seconds between delivery attempts; the last value repeats."),
    Setting("relay.max_age_s", int, 5 * 86400, "Age after which an undelivered message is bounced (5 days).",
            _positive),
    Setting("relay.delay_warning_s", int, 4 * 3600, "Age after which one delay DSN is sent (4 hours).", _positive),
    Setting("relay.poll_interval_s", float, 5.0, "How often the relay looks for due items when not woken.",
            _positive),
    Setting("relay.concurrency", int, 4, "Deliveries the relay runs at once.", _positive),
    Setting("relay.lease_s", int, 600,
            "Seconds a worker holds a claimed item; after a crash another worker takes it then.", _positive),
    Setting("relay.connect_timeout_s", float, 30.0, "Timeout of one SMTP exchange step with a next hop.",
            _positive),
    Setting("relay.dns_mx", bool, False,
            "Route domains that no `relay.routes` entry covers through DNS: MX hosts by preference, else the "
            "domain's own A/AAAA records (RFC 5321 §5.1)."),
    Setting("relay.dns_servers", list, [],
            "Name servers for MX look-ups, entries `host` or `host:port`; empty means the system's resolv.conf.",
            _dns_servers),
    Setting("relay.dns_timeout_s", float, 10.0, "Time allowed for one DNS look-up, all servers tried.", _positive),
    Setting("relay.smtp_port", int, 25, "Port of next hops found through DNS.", _positive),
    # --- IMAP front door (issue 4: mssante_hub/imap/) ---
    Setting("imap.max_append_bytes", int, 25 * MIB, "Largest APPEND literal accepted, in bytes.", _positive),
    Setting("imap.max_line_bytes", int, 64 * 1024, "Longest IMAP command line (between literals), in bytes.",
            _positive),
    Setting("imap.max_string_literal_bytes", int, 64 * 1024,
            "Largest literal accepted as a command argument other than an APPEND message.", _positive),
    Setting("imap.max_command_bytes", int, 256 * 1024,
            "Largest IMAP command, lines and literals together, APPEND messages excepted.", _positive),
    Setting("imap.max_preauth_command_bytes", int, 8 * 1024,
            "Largest IMAP command before login, lines and literals together: no literal over it is invited or read.",
            _positive),
    Setting("imap.max_session_append_bytes", int, 50 * MIB,
            "APPEND literal bytes one IMAP session may hold at once (pipelined uploads), in bytes.", _positive),
    Setting("imap.max_buffered_append_bytes", int, 256 * MIB,
            "APPEND literal bytes all IMAP sessions of the process may hold at once; past it, NO [LIMIT].",
            _positive),
    Setting("imap.max_buffered_answer_bytes", int, 128 * MIB,
            "FETCH answer bytes all IMAP sessions of the process may hold unread by their clients; past it, the "
            "session whose unread answer waited longest is disconnected.", _positive),
    Setting("imap.vanished_keep_days", int, 180,
            "Days each expunged UID is remembered for QRESYNC; a client that last synced before is told every "
            "absent UID (docs/imap.md).", _positive),
    Setting("imap.autologout_seconds", int, 30 * 60,
            "Inactivity after which an authenticated IMAP session is closed (RFC 3501: at least 30 min).",
            _positive),
    Setting("imap.preauth_timeout_seconds", int, 60, "Inactivity before login after which a session is closed.",
            _positive),
    Setting("imap.idle_poll_seconds", float, 5.0,
            "How often an IDLE session looks for changes made by other hub processes.", _positive),
    Setting("imap.recheck_seconds", float, 5.0,
            "How often, at most, a logged-in IMAP session re-reads its account's status and password hash (before "
            "its next command, or while IDLE): a changed password, a suspended or deleted mailbox ends it with BYE.",
            _positive),
    Setting("imap.quota_bytes", int, 2 * 1024 * MIB, "Storage quota of one mailbox (QUOTA), in bytes.", _positive),
    Setting("imap.login_cache_seconds", int, 300,
            "How long a password Argon2id accepted is accepted again without Argon2id (same mailbox, same stored "
            "hash; kept in memory as a keyed digest); 0 disables.", _non_negative),
    Setting("imap.max_failed_logins", int, 5,
            "Failed IMAP logins per client address and login, within the window, before that pair is refused.",
            _positive),
    Setting("imap.failed_login_window_s", int, 900, "Window of the IMAP failed-login counts, seconds.", _positive),
    Setting("imap.max_connections", int, 5000, "Most IMAP connections one hub process serves at once.", _positive),
    Setting("imap.send_buffer_bytes", int, 128 * 1024,
            "Kernel send buffer (SO_SNDBUF) of each IMAP connection, in bytes; the kernel holds up to twice this "
            "of unsent answer per connection. 0 leaves Linux's autotuning (up to net.ipv4.tcp_wmem, 4 MiB).",
            _non_negative),
    Setting("imap.max_connections_per_address", int, 50,
            "IMAP connections (imap and imaps together) from one client address at once; others get BYE.", _positive),
    # --- Patient spaces, notifications, professionals' inactivity (issue 5) ---
    Setting("web.max_request_bytes", int, 16 * MIB,
            "Largest webmail API request body, in bytes (held in memory, never spooled to disk).", _positive),
    Setting("web.max_buffered_bytes", int, 64 * MIB,
            "Request body bytes the web listener holds at once, all requests together (503 past it).", _positive),
    Setting("web.request_timeout_s", int, 60, "Seconds an idle web connection is kept open.", _positive),
    Setting("web.request_head_timeout_s", int, 30,
            "Seconds a web request's line and headers may take to arrive, whatever the pace (408 and close).",
            _positive),
    Setting("web.trusted_proxies", list, [],
            "Networks of reverse proxies whose X-Forwarded-For names the client (its right-most untrusted entry); "
            "anyone else's is ignored.", _networks),
    Setting("web.send_buffer_bytes", int, 128 * 1024,
            "Kernel send buffer (SO_SNDBUF) of each web connection, in bytes (as `imap.send_buffer_bytes`); "
            "0 leaves Linux's autotuning.", _non_negative),
    Setting("web.max_connections_per_address", int, 100,
            "Web connections from one client address at once (trusted proxies excepted); others are closed.",
            _positive),
    Setting("web.session_idle_minutes", int, 120, "Webmail session ends after this many minutes without use.",
            _positive),
    Setting("web.session_max_hours", int, 12, "Webmail session ends this many hours after sign-in, whatever use.",
            _positive),
    Setting("web.max_failed_logins", int, 5,
            "Failed webmail sign-ins per (client address, login), within the window, before that pair is refused.", _positive),
    Setting("web.failed_login_window_s", int, 900, "Window of the webmail failed sign-in count, seconds.",
            _positive),
    Setting("patients.objection_window_days", int, 42,
            "Days a provisioned patient may object with the code; objection deletes the space at once.", _positive),
    Setting("patients.code_max_failures", int, 5,
            "Wrong activation codes for one INS before further tries are locked out.", _positive),
    Setting("patients.code_lockout_minutes", int, 15,
            "Lock-out after too many wrong codes; doubles with each further failure.", _positive),
    Setting("patients.archive_retention_days", int, 3653,
            "Days a closed space stays archived (restorable) before the purge crypto-shreds it (10 years).",
            _positive),
    Setting("patients.deletion_delay_days", int, 30,
            "Days between a deletion request and its execution by the daily job (the law allows 3 months).",
            _non_negative),
    Setting("patients.attachment_budget_bytes", int, 10 * MIB,
            "Total size of the files a patient may attach to one message.", _positive),
    Setting("patients.provision_max_rows", int, 2_000_000, "Most rows one provisioning CSV may hold.", _positive),
    Setting("dossier.quarantine_days", int, 30,
            "Days a document message about another patient (MDN 902/904) is held, sealed, before the daily job "
            "deletes it.", _positive),
    Setting("dossier.care_window_days", int, 365,
            "A professional who exchanged a message with the patient within this many days is in care and may "
            "read the dossier (unless blocked).", _positive),
    Setting("agenda.max_calendar_bytes", int, 256 * 1024,
            "Largest iCalendar object (an iMIP part) read for a patient's agenda; larger is refused (5.3.4).",
            _positive),
    Setting("agenda.max_events", int, 50, "Most VEVENTs one calendar may hold for a patient's agenda.", _positive),
    Setting("agenda.max_occurrences", int, 400,
            "Most occurrences the events of one calendar may expand to in all (within 5 years); more is refused.", _positive),
    Setting("agenda.reminder_hours", int, 24,
            "Hours before an appointment when its content-free reminder is marked for the notification worker "
            "(0: no reminders).", _non_negative),
    Setting("agenda.max_listed", int, 1000, "Most agenda items one listing (and the ICS feed) returns.", _positive),
    Setting("catalogue.reapproval_days", int, 30,
            "Days a patient has to approve a new version of a connected service before its access lapses "
            "(0: at once).", _non_negative),
    Setting("profile.max_resource_bytes", int, 256 * 1024,
            "Largest FHIR resource of the profil médical, in bytes (an API request past it is refused unread).",
            _positive),
    Setting("notify.interval_minutes", int, 60,
            "At most one notification per patient in this interval; later news waits for the digest.",
            _non_negative),
    Setting("notify.portal_url", str, "https://patient.hub.localhost/",
            "Where notifications invite patients to log in (no content is ever mailed)."),
    Setting("professionals.inactivity_warn_days", int, 335,
            "Days without login after which a professional mailbox is warned (11 months).", _positive),
    Setting("professionals.inactivity_suspend_days", int, 365,
            "Days without login after which a professional mailbox is suspended (12 months).", _positive),
)
BY_KEY = {s.key: s for s in SETTINGS}
LISTENER_NAMES = ("mx", "submission", "imap", "imaps", "web")


def setting(key: str) -> Setting:
    try:
        return BY_KEY[key]
    except KeyError:
        raise ConfigError(f"unknown setting {key!r}; see docs/configuration.md") from None


def validate(key: str, value: Any) -> Any:
    """The value converted to the setting's type, or ConfigError."""
    spec = setting(key)
    if spec.type is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and spec.type is not bool or not isinstance(value, spec.type):
        raise ConfigError(f"{key} takes a {spec.type.__name__}, not {type(value).__name__}")
    if spec.check:
        spec.check(value)
    return value


def _plain(value: Any) -> Any:
    return value.unwrap() if hasattr(value, "unwrap") else value


class Config:
    """Settings of one data folder: the file's values over the defaults."""

    def __init__(self, data_dir: Path, document: tomlkit.TOMLDocument | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.document = document if document is not None else tomlkit.document()
        # Scalar values read on hot paths: a look-up through tomlkit costs tens of microseconds.
        self._scalars: dict[str, Any] = {}

    @property
    def path(self) -> Path:
        return self.data_dir / CONFIG_FILE_NAME

    @classmethod
    def load(cls, data_dir: Path) -> "Config":
        path = Path(data_dir) / CONFIG_FILE_NAME
        if not path.exists():
            raise ConfigError(f"{path} not found; create the data folder with: mssante-hub init --data-dir {data_dir}")
        try:
            document = tomlkit.parse(path.read_text(encoding="utf-8"))
        except tomlkit.exceptions.TOMLKitError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        config = cls(data_dir, document)
        for key in config.explicit_keys():
            validate(key, config.get(key))
        return config

    def explicit_keys(self) -> list[str]:
        return [f"{section}.{name}" for section, table in self.document.items() for name in table]

    def get(self, key: str) -> Any:
        if key in self._scalars:
            return self._scalars[key]
        value = self._get(key)
        if isinstance(value, (str, int, float, bool)):
            self._scalars[key] = value
        return value

    def _get(self, key: str) -> Any:
        spec = setting(key)
        section, name = key.split(".", 1)
        table = self.document.get(section)
        if table is not None and name in table:
            return _plain(table[name])
        return spec.default

    def set(self, key: str, value: Any) -> None:
        value = validate(key, value)
        self._scalars.pop(key, None)
        section, name = key.split(".", 1)
        if section not in self.document:
            self.document[section] = tomlkit.table()
        self.document[section][name] = value

    def save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(tomlkit.dumps(self.document), encoding="utf-8")
        tmp.replace(self.path)

    def path_setting(self, key: str) -> Path:
        """A file setting resolved against the data folder."""
        return self.data_dir / self.get(key)

    def blob_dir(self) -> Path:
        """The directory store's folder (an absolute setting stays as it is)."""
        return self.data_dir / self.get("storage.blob_dir")

    def storage_url(self) -> str:
        return self.get("storage.url") or f"sqlite:///{(self.data_dir / 'hub.sqlite3').resolve()}"


def parse_toml_value(text: str) -> Any:
    """A VALUE as typed on the command line, in TOML syntax (`25`, `"x"`, `["a"]`)."""
    try:
        return _plain(tomlkit.parse(f"v = {text}")["v"])
    except tomlkit.exceptions.TOMLKitError:
        # A bare word is taken as a string, as postconf does.
        return text
