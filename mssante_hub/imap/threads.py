"""THREAD algorithms of RFC 5256 §2.2 (REFERENCES) and §2.1/§3 (ORDEREDSUBJECT), over sort rows.

Pure functions: rows in (sortkeys.Row), a list of trees out, each node a row or None (a dummy,
which only the top level keeps).
"""

from __future__ import annotations

from mssante_hub.imap.sortkeys import Row

# A loop check walks at most this far up; a thread deeper than that is cut there (References are
# hostile input: without a bound, a chain of n messages would cost n² steps).
MAX_PARENT_WALK = 1_000


class Node:
    """A container of RFC 5256 §2.2: a message (`row`) or a dummy (None, a message referred to but
    not in the set). Slotted and plain: a THREAD of a large folder makes one per message."""

    __slots__ = ("row", "parent", "children")

    def __init__(self, row: Row | None = None, parent: "Node | None" = None) -> None:
        self.row = row
        self.parent = parent
        self.children: list[Node] = []

    def first_row(self) -> Row | None:
        """The message a node is dated and named by: its own, or (dummy) its first child's."""
        node = self
        while node.row is None and node.children:
            node = node.children[0]
        return node.row


def _sent_key(node: Node) -> tuple[float, int]:
    row = node.row if node.row is not None else node.first_row()
    return (row.sent, row.uid) if row is not None else (0.0, 0)  # ties: sequence (UID) order


def _is_ancestor(candidate: Node, node: Node) -> bool:
    """True if `candidate` is `node` or above it: linking node -> candidate would make a loop."""
    walk, steps = candidate, 0
    while walk is not None and steps < MAX_PARENT_WALK:
        if walk is node:
            return True
        walk, steps = walk.parent, steps + 1
    return steps >= MAX_PARENT_WALK


def _link(parent: Node, child: Node) -> None:
    if child.parent is not None:
        child.parent.children.remove(child)
    child.parent = parent
    parent.children.append(child)


def references(rows: list[Row]) -> list[Node]:
    """RFC 5256 §2.2 THREAD=REFERENCES (steps A to G)."""
    table: dict[str, Node] = {}
    unique = 0
    for row in rows:  # (A)
        msgid = row.keys.message_id
        node = table.get(msgid) if msgid else None
        if not msgid or node is not None and node.row is not None:
            unique += 1
            msgid = f"\0unique-{unique}"  # a missing or duplicate Message-ID: a message of its own
            node = None
        if node is None:
            node = table[msgid] = Node()
        node.row = row
        previous = None
        for ref in row.keys.references:  # (A.2) link the chain of references where it holds
            ref_node = table.get(ref)
            if ref_node is None:
                ref_node = table[ref] = Node()
            if previous is not None and ref_node.parent is None and not _is_ancestor(previous, ref_node):
                _link(previous, ref_node)
            previous = ref_node
        # (A.3) the last reference is the message's parent, overriding any earlier link (a truncated
        # References); no references: the message is a root. Never a link that makes a loop.
        if previous is None:
            if node.parent is not None:
                node.parent.children.remove(node)
                node.parent = None
        elif not _is_ancestor(previous, node):
            _link(previous, node)
    roots = _prune([n for n in table.values() if n.parent is None])  # (B), (D)
    _sort_children(roots)
    roots = _group_by_subject(sorted(roots, key=_sent_key))  # (E), (F)
    _sort_children(roots)  # (G)
    return sorted(roots, key=_sent_key)


def _prune(roots: list[Node]) -> list[Node]:
    """(D), bottom-up: a dummy without children goes; a dummy's children take its place, except at
    the top level, where a dummy with several children stays (and one child is promoted)."""
    order, stack = [], list(roots)
    while stack:  # every node, parents before their children
        node = stack.pop()
        order.append(node)
        stack.extend(node.children)
    for node in reversed(order):  # children before their parents
        kept: list[Node] = []
        for child in node.children:
            if child.row is not None:
                kept.append(child)
            elif child.children:
                for grandchild in child.children:
                    grandchild.parent = node
                kept.extend(child.children)
        node.children = kept
    out: list[Node] = []
    for root in roots:
        if root.row is not None or len(root.children) > 1:
            out.append(root)
        elif root.children:
            only = root.children[0]
            only.parent = None
            out.append(only)
    return out


def _subject_of(node: Node) -> str:
    row = node.first_row()
    return row.keys.subject if row is not None else ""


def _group_by_subject(roots: list[Node]) -> list[Node]:
    """(F): top-level threads of the same base subject gathered under one."""
    table: dict[str, Node] = {}
    for root in roots:
        subject = _subject_of(root)
        if not subject:
            continue
        held = table.get(subject)
        if held is None or (root.row is None and held.row is not None) or (
                root.row is not None and held.row is not None and held.row.keys.reply and not root.row.keys.reply):
            table[subject] = root
    out = list(roots)
    position = {id(node): i for i, node in enumerate(out)}
    removed: set[int] = set()
    for root in roots:
        subject = _subject_of(root)
        held = table.get(subject) if subject else None
        if held is None or held is root:
            continue
        removed.add(id(root))
        if held.row is None and root.row is None:
            for child in list(root.children):
                _link(held, child)
        elif held.row is None:
            _link(held, root)
        elif root.row is not None and root.row.keys.reply and not held.row.keys.reply:
            _link(held, root)
        else:
            dummy = Node()
            at = position[id(held)]
            out[at] = dummy
            position[id(dummy)] = at
            _link(dummy, held)
            _link(dummy, root)
            table[subject] = dummy
    return [node for node in out if id(node) not in removed]


def _sort_children(nodes: list[Node]) -> None:
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if node.children:
            if len(node.children) > 1:
                node.children.sort(key=_sent_key)
            stack.extend(node.children)


def ordered_subject(rows: list[Row]) -> list[Node]:
    """RFC 5256 §3 THREAD=ORDEREDSUBJECT: by base subject, then sent date; each run of one
    subject is a thread whose first message is the parent of all the others."""
    threads: dict[str, Node] = {}
    for row in sorted(rows, key=lambda r: (r.keys.subject, r.sent, r.uid)):
        root = threads.get(row.keys.subject)
        if root is None:
            threads[row.keys.subject] = Node(row)
        else:
            root.children.append(Node(row, root))
    return sorted(threads.values(), key=_sent_key)


def format_threads(roots: list[Node], number) -> bytes:
    """The THREAD response's data, `(1 2 (3)(4 5))(6)`: a chain of only children as numbers in a
    row, several children each in parentheses. `number` maps a row to its sequence number or UID.
    Iterative: threads may be thousands deep (a References chain is hostile input)."""
    out: list[bytes] = []
    stack: list = []
    for root in reversed(roots):
        stack += [b")", root, b"("]
    while stack:
        item = stack.pop()
        if isinstance(item, bytes):
            out.append(item)
            continue
        expansion: list = []
        if item.row is not None:
            expansion.append(b"%d" % number(item.row))
            if len(item.children) == 1:
                expansion += [b" ", item.children[0]]
                stack.extend(reversed(expansion))
                continue
            if item.children:
                expansion.append(b" ")
        for child in item.children:
            expansion += [b"(", child, b")"]
        stack.extend(reversed(expansion))
    return b"".join(out)
