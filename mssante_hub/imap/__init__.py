"""IMAP front door for professionals' mail clients, on Twisted's IMAP4Server.

Modules, by concern:
  framing.py       bytes -> complete commands (lines and literals), under size caps
  syntax.py        tokens, sequence sets, mailbox names, dates; bounded nesting
  wire.py          how values are written back (quoted, literal, lists)
  server.py        the IMAP4Server subclass: command queue, states, dispatch, IDLE
  capabilities.py  what the server announces, before and after TLS
  auth.py          LOGIN and AUTHENTICATE (PLAIN, SASL-IR), only after TLS
  folders.py       LIST, LSUB, CREATE, DELETE, RENAME, (UN)SUBSCRIBE, STATUS, NAMESPACE
  mailbox.py       the per-session view of a selected folder (sequence numbers <-> UIDs)
  messages.py      SELECT, STORE, COPY, MOVE, EXPUNGE, CLOSE, UNSELECT
  append.py        APPEND and MULTIAPPEND (literal8, UTF8 data extension), through delivery
  fetch.py         FETCH attributes and their answers; mimetree.py: MIME parts, ENVELOPE, BODYSTRUCTURE;
                   binary.py: BINARY, BINARY.PEEK, BINARY.SIZE (content-transfer-encoding undone)
  search.py        SEARCH compiled to SQL, with decryption only for what SQL cannot see
  sort.py          SORT (SORT=DISPLAY, ESORT) and THREAD; sortkeys.py: what they compare, from the
                   summaries (cached per body); threads.py: the REFERENCES and ORDEREDSUBJECT algorithms
  notify.py        tells sessions on a folder of changes (deliveries, other sessions)
  tls.py           the TLS context from the hub's certificate
  starttls.py / implicit_tls.py   the two listeners `serve` starts ("imap", "imaps")
"""
