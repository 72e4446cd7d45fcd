"""The bad-input corpus: each case is one distinct mistake and the exact report it must produce.

`expected` lists `line:col: message` for every reported problem (warnings as `warning: ...`), in
the order validate prints them. Cases that need the file system (directories, links, sizes) are
built in test_corpus.py; they are listed there with their expected messages too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    name: str
    content: str | bytes
    expected: list[str]


HEAD = "apiVersion: loopform/v1\nkind: Pipeline\nmetadata:\n  name: demo\n"
# A valid two-node body; cases change one thing in it. Lines: nodes at 6, src 7, work 8, conn 10.
BODY = (
    "spec:\n"
    "  nodes:\n"
    "    src: {type: dataset, dataset: raw}\n"
    "    work: {type: code, code: 'print(1)'}\n"
    "  connections:\n"
    "    - {from: src, to: work}\n"
)
VALID = HEAD + BODY


def _with(old: str, new: str) -> str:
    assert old in VALID, old
    return VALID.replace(old, new)


_BOMB = "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" if i else "l0: &l0 [lol, lol, lol]\n"
    for i in range(9)
)

CASES: list[Case] = [
    # ---- not YAML / not a document ------------------------------------------------------
    Case("empty", "", ["1:1: empty file: expected a Pipeline spec (apiVersion, kind, metadata, spec)"]),
    Case(
        "only comments",
        "# nothing here\n\n   \n",
        ["1:1: empty file: expected a Pipeline spec (apiVersion, kind, metadata, spec)"],
    ),
    Case(
        "null document",
        "---\n~\n",
        ["1:1: empty document: expected a Pipeline spec (apiVersion, kind, metadata, spec)"],
    ),
    Case(
        "top-level list",
        "- apiVersion: loopform/v1\n",
        ["1:1: a spec must be a mapping (apiVersion, kind, metadata, spec), got a list"],
    ),
    Case(
        "top-level scalar",
        "just a string\n",
        ["1:1: a spec must be a mapping (apiVersion, kind, metadata, spec), got 'just a string'"],
    ),
    Case(
        "multi-document",
        VALID + "---\n" + VALID,
        [
            "11:1: a spec file holds one document; found a second one (---): "
            "put each pipeline in its own file"
        ],
    ),
    Case(
        "malformed mapping",
        "apiVersion: loopform/v1\nkind: Pipeline: x\n",
        ["2:15: invalid YAML: mapping values are not allowed in this context"],
    ),
    Case(
        "unclosed flow sequence",
        "apiVersion: [loopform/v1\nkind: Pipeline\n",
        ["2:5: invalid YAML: did not find expected ',' or ']' while parsing a flow sequence"],
    ),
    Case(
        "bad indentation",
        "apiVersion: loopform/v1\n  kind: Pipeline\n",
        ["2:7: invalid YAML: mapping values are not allowed in this context"],
    ),
    Case(
        "tab indentation",
        "metadata:\n\tname: demo\n",
        [
            "2:1: invalid YAML: found character that cannot start any token while scanning for the "
            "next token; this is a tab: YAML indents with spaces only"
        ],
    ),
    Case(
        "tab indentation inside a block",
        _with("  name: demo\n", "  name: demo\n\tproject: p\n"),
        [
            "5:1: invalid YAML: found a tab character that violates indentation while scanning a "
            "plain scalar; this is a tab: YAML indents with spaces only"
        ],
    ),
    Case(
        "BOM and CRLF with a mistake",
        b"\xef\xbb\xbf" + _with("to: work}", "to: wrok}").replace("\n", "\r\n").encode(),
        ["10:19: unknown node 'wrok' (did you mean 'work'?)"],
    ),
    Case(
        "line separator inside a string, then a mistake",
        _with("name: demo", "name: \"de\u2028mo\u0085\"").replace("to: work}", "to: wrok}"),
        ["10:19: unknown node 'wrok' (did you mean 'work'?)"],
    ),
    Case(
        "alias bomb in flow mappings",
        "".join(
            f"m{i}: &m{i} {{a: *m{i - 1}, b: *m{i - 1}, c: *m{i - 1}, d: *m{i - 1}}}\n" if i
            else "m0: &m0 {x: 1, y: 2}\n"
            for i in range(30)
        ),
        ["8:13: aliases expand the document to more than 50000 values, far more than a pipeline spec holds"],
    ),
    Case(
        "unterminated quote",
        'apiVersion: "loopform/v1\n',
        ["2:1: invalid YAML: found unexpected end of stream while scanning a quoted scalar"],
    ),
    Case(
        "control character",
        "apiVersion: loopform/v1\nkind: Pipe\x07line\n",
        ["2:11: invalid YAML: character U+0007 is not allowed (control characters are not allowed)"],
    ),
    Case(
        "binary junk",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        ["3:1: binary file (contains NUL bytes), not a YAML spec"],
    ),
    Case("latin-1 bytes", b"apiVersion: loopform/v1\nkind: Pip\xe9line\n", ["2:10: not UTF-8 text: invalid byte 0xe9"]),
    Case(
        "alias bomb",
        _BOMB,
        ["6:10: aliases expand the document to more than 50000 values, far more than a pipeline spec holds"],
    ),
    Case(
        "too many values",
        "a: [" + "1, " * 50_000 + "1]\n",
        ["1:150002: the document holds more than 50000 values, far more than a pipeline spec holds"],
    ),
    Case(
        "key path too long",
        "a:\n  ? " + "k" * 1_100 + "\n  : [1, 2]\n",
        ["2:5: key path longer than 1024 characters (a key that long, or long keys nested within each other)"],
    ),
    Case("deep nesting", "a: " + "[" * 200 + "]" * 200 + "\n", ["1:67: nesting deeper than 64 levels"]),
    Case("unknown alias", "a: *nothing\n", ["1:4: unknown alias '*nothing' (no anchor '&nothing' before it)"]),
    Case("recursive alias", "a: &x [1, *x]\n", ["1:11: alias '*x' refers to its own enclosing node"]),
    Case(
        "python tag",
        "apiVersion: !!python/object/apply:os.system ['true']\n",
        ["1:13: unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system'"],
    ),
    Case("custom tag", "apiVersion: !Ref loopform\n", ["1:13: unsupported YAML tag '!Ref'"]),
    Case(
        "not a finite number",
        _with("name: demo", "name: .inf"),
        ["4:9: '.inf' is not a finite number (JSON cannot hold it); quote it if it is text"],
    ),
    # ---- YAML-level structure ------------------------------------------------------------
    Case(
        "duplicate top-level key",
        VALID + "kind: Pipeline\n",
        ["11:1: duplicate key 'kind' (first defined at line 2, column 1); YAML keeps only one of them"],
    ),
    Case(
        "duplicate node key",
        _with("    work: {type: code", "    src: {type: dataset}\n    work: {type: code"),
        ["8:5: duplicate key 'src' (first defined at line 7, column 5); YAML keeps only one of them"],
    ),
    Case(
        "boolean mapping key (on)",
        _with("    src: {type", "    on: {type: dataset}\n    src: {type"),
        ['7:5: mapping keys must be strings, got boolean true (YAML 1.1 reads \'on\' as a boolean): quote it, "on"'],
    ),
    Case(
        "numeric mapping key",
        _with("    src: {type", "    1: {type: dataset}\n    src: {type"),
        ['7:5: mapping keys must be strings, got number 1: quote it, "1"'],
    ),
    Case(
        "merge key with a scalar",
        _with("  name: demo\n", "  name: demo\n  <<: 3\n"),
        ["5:3: a merge key (<<) takes a mapping or a list of mappings, got number 3"],
    ),
    # ---- schema: wrong or missing fields -------------------------------------------------
    Case("wrong apiVersion", VALID.replace("loopform/v1", "loopform/v2"), ["1:1: expected one of loopform/v1; got 'loopform/v2'"]),
    Case(
        "missing kind",
        VALID.replace("kind: Pipeline\n", ""),
        ["1:1: missing required field 'kind'"],
    ),
    Case("missing spec", HEAD, ["1:1: missing required field 'spec'"]),
    Case("missing name", VALID.replace("  name: demo\n", "  project: local\n"), ["3:1: missing required field 'name'"]),
    Case(
        "YAML 1.1 boolean as name (no)",
        _with("name: demo", "name: no"),
        ['4:3: expected a string, got boolean false; YAML 1.1 reads no as a boolean: quote it, "no"'],
    ),
    Case(
        "YAML 1.1 boolean as dataset (yes)",
        _with("dataset: raw", "dataset: yes"),
        ['7:26: expected a string, got boolean true; YAML 1.1 reads yes as a boolean: quote it, "yes"'],
    ),
    Case(
        "YAML 1.1 boolean as action (off)",
        _with("- {from: src, to: work}", "- {from: src, to: work, action: off}"),
        [
            '10:29: expected a string, got boolean false; YAML 1.1 reads off as a boolean: quote it, "off"',
        ],
    ),
    Case(
        "number where a string is meant",
        _with("name: demo", "name: 1.10"),
        ['4:3: expected a string, got number 1.1; quote it, "1.10"'],
    ),
    Case(
        "string where a boolean is meant",
        _with("dataset: raw}", "dataset: raw, loadExisting: 'yes'}"),
        ["7:40: expected a boolean (true/false) or a mapping, got 'yes'"],
    ),
    Case(
        "unknown field with suggestion",
        _with("  name: demo\n", "  name: demo\n  descripton: x\n"),
        ["5:3: unknown field 'descripton' (did you mean 'description'?)"],
    ),
    Case(
        "status not allowed",
        _with("spec:\n", "spec:\n  status: running\n"),
        ["6:3: expected one of installed, paused; got 'running'"],
    ),
    Case(
        "empty nodes",
        HEAD + "spec:\n  nodes: {}\n",
        ["6:3: must not be empty"],
    ),
    Case(
        "node key with a dot",
        _with("    src: {type: dataset, dataset: raw}", "    src.a: {type: dataset, dataset: raw}").replace(
            "from: src,", "from: src.a,"
        ),
        [
            "7:5: invalid node key 'src.a': use letters, digits, '_' and '-' (at most 64, "
            "not starting with '-'; no dots, since 'node.port' names a port)"
        ],
    ),
    Case(
        "node without type",
        _with("src: {type: dataset, dataset: raw}", "src: {dataset: raw}"),
        [
            "7:5: missing required field 'type' (dataset, code, function, task, ml, custom, "
            "updateVariable, or a platform type such as merge)"
        ],
    ),
    Case(
        "storage instead of dataset",
        _with("type: dataset", "type: storage"),
        ["7:11: node type 'storage' is written 'dataset' in a spec"],
    ),
    Case(
        "node is a string",
        _with("src: {type: dataset, dataset: raw}", "src: dataset"),
        ["7:5: expected a mapping, got 'dataset'"],
    ),
    Case(
        "code and source together",
        _with("code: 'print(1)'", "code: 'print(1)', source: x.py"),
        ["8:5: a code node needs exactly one of `code` (inline) or `source` (a file)"],
    ),
    Case(
        "unknown port type",
        _with("{type: code, code: 'print(1)'}", "{type: code, code: 'print(1)', inputs: [{name: item, type: Items}]}"),
        ["8:64: 'Items' is not one of the 35 allowed values (did you mean 'Item'?)"],
    ),
    Case(
        "task batch size out of range",
        _with("work: {type: code, code: 'print(1)'}", "work: {type: task, task: {batchSize: 200}}"),
        ["8:31: must be <= 100 (got number 200)"],
    ),
    Case(
        "task due date not ISO",
        _with("work: {type: code, code: 'print(1)'}", "work: {type: task, task: {dueDate: next friday}}"),
        ["8:31: dueDate must be an ISO date (2026-12-31) or date-time"],
    ),
    Case(
        "trigger with both event and cron",
        _with("dataset: raw}", "dataset: raw, trigger: {cron: '0 * * * *', event: {}}}"),
        ["7:40: a trigger needs exactly one of `event` or `cron`"],
    ),
    Case(
        "bad cron",
        _with("dataset: raw}", "dataset: raw, trigger: {cron: hourly}}"),
        ["7:50: invalid cron expression 'hourly': expected 5 or 6 space-separated fields"],
    ),
    Case(
        "cron minute out of range",
        _with("dataset: raw}", "dataset: raw, trigger: {cron: '99 * * * *'}}"),
        ["7:50: invalid cron expression '99 * * * *': the minute field '99' is outside 0-59"],
    ),
    Case(
        "cron month out of range, six fields",
        _with("dataset: raw}", "dataset: raw, trigger: {cron: '0 0 6 1 13 *'}}"),
        ["7:50: invalid cron expression '0 0 6 1 13 *': the month field '13' is outside 1-12 or JAN-DEC"],
    ),
    Case(
        "folder without slash",
        _with("dataset: raw}", "dataset: raw, folder: incoming}"),
        ["7:40: folder must start with '/' (got 'incoming')"],
    ),
    Case(
        "connection without from",
        _with("- {from: src, to: work}", "- {to: work}"),
        ["10:7: missing required field 'from'"],
    ),
    Case(
        "connection to a number",
        _with("to: work}", "to: 7}"),
        ['10:19: expected a node key or a list of them, got number 7; quote it, "7"'],
    ),
    Case(
        "endpoint with two dots",
        _with("from: src,", "from: src.item.x,"),
        ["10:8: invalid endpoint 'src.item.x': expected a node key or 'node.port'"],
    ),
    # ---- graph and reference checks --------------------------------------------------------
    Case(
        "connection to an unknown node",
        _with("to: work}", "to: wrok}"),
        ["10:19: unknown node 'wrok' (did you mean 'work'?)"],
    ),
    Case(
        "unknown port",
        _with("to: work}", "to: work.input}"),
        ["10:19: node 'work' has no input port 'input'; its inputs: item"],
    ),
    Case(
        "ambiguous source port (ml)",
        _with("src: {type: dataset, dataset: raw}", "src: {type: ml, model: m}"),
        ["10:8: node 'src' has several output ports (item, annotations); name one, e.g. 'src.item'"],
    ),
    Case(
        "action the port does not offer",
        _with("src: {type: dataset, dataset: raw}", "src: {type: task}").replace(
            "{from: src, to: work}", "{from: src, action: approve, to: work}"
        ),
        [
            "10:19: action 'approve' is not offered by 'src.item'; it offers: complete, discard",
        ],
    ),
    Case(
        "action on a port without actions",
        _with("{from: src, to: work}", "{from: src, action: complete, to: work}"),
        ["10:19: action 'complete' is not offered by 'src.item': it has no actions"],
    ),
    Case(
        "port type mismatch",
        _with("{type: code, code: 'print(1)'}", "{type: code, code: 'print(1)', inputs: [{name: m, type: Model}]}"),
        ["10:19: port type mismatch: 'src.item' (Item) cannot feed 'work.m' (Model)"],
    ),
    Case(
        "root is not a node",
        _with("spec:\n", "spec:\n  root: source\n"),
        ["6:3: root 'source' is not a node (did you mean 'src'?)"],
    ),
    Case(
        "ambiguous root",
        VALID.replace("  connections:\n    - {from: src, to: work}\n", "  connections: []\n"),
        [
            "6:3: ambiguous root: 2 nodes have no incoming connection (src, work); set `spec.root` to one of them",
        ],
    ),
    Case(
        "no root: a cycle",
        _with("- {from: src, to: work}", "- {from: src, to: work}\n    - {from: work, to: src}"),
        [
            "6:3: cannot infer the root: every node has an incoming connection; set `spec.root`",
            "10:19: endless loop: node 'src' feeds 'src', 'work' with no task node in between, so items "
            "would circle forever; the platform refuses it (Infinite Loop detected)",
        ],
    ),
    Case(
        "a node connected to itself",
        _with("- {from: src, to: work}", "- {from: src, to: work}\n    - {from: work, to: work}"),
        [
            "11:20: endless loop: node 'work' feeds itself with no task node in between, so items "
            "would circle forever; the platform refuses it (Infinite Loop detected)",
        ],
    ),
    Case(
        "a loop through a task node ends (accepted)",
        _with("work: {type: code, code: 'print(1)'}", "work: {type: task}").replace(
            "- {from: src, to: work}", "- {from: src, to: work}\n    - {from: work, action: discard, to: work}"
        ),
        [],
    ),
    Case(
        "dataset node without a dataset",
        _with("src: {type: dataset, dataset: raw}", "src: {type: dataset}"),
        [
            "7:5: dataset node 'src' names no dataset: set `dataset` (or `datasetVariable`); the platform "
            "refuses to install a dataset node without a datasetId",
        ],
    ),
    Case(
        "dataset node with the raw datasetId export keeps (accepted)",
        _with("src: {type: dataset, dataset: raw}", "src: {type: dataset, metadata: {datasetId: d1}}"),
        [],
    ),
    Case(
        "dataset node without a dataset in a paused spec (accepted: a template)",
        _with("src: {type: dataset, dataset: raw}", "src: {type: dataset}").replace(
            "spec:\n", "spec:\n  status: paused\n"),
        [],
    ),
    Case(
        "dataset node loading existing data behind a connection",
        _with("    work: {type: code, code: 'print(1)'}\n",
              "    work: {type: code, code: 'print(1)'}\n    done: {type: dataset, dataset: d, loadExisting: true}\n"
              ).replace("- {from: src, to: work}", "- {from: src, to: work}\n    - {from: work, to: done}"),
        [
            "9:39: dataset node 'done' loads existing data, so it must be where items enter: the platform "
            "refuses to install it with an incoming connection",
        ],
    ),
    Case(
        "unreachable node (warning)",
        _with("  connections:\n", "  root: src\n  connections:\n").replace(
            "    work: {type: code, code: 'print(1)'}\n",
            "    work: {type: code, code: 'print(1)'}\n    lost: {type: dataset, dataset: raw}\n",
        ),
        ["9:5: warning: node 'lost' is unreachable: no path from the root or a trigger leads to it"],
    ),
    Case(
        "an event trigger on a task root (accepted: dtlpy's pulling-task flow)",
        _with("src: {type: dataset, dataset: raw}", "src: {type: task, trigger: {event: {resource: Item}}}"),
        [],
    ),
    Case(
        "event trigger without a matching input",
        _with("dataset: raw}", "dataset: raw, trigger: {event: {resource: Dataset}}}"),
        [
            "7:58: a Dataset event trigger needs an input port of type Dataset; node 'src' has: item (Item)",
        ],
    ),
    Case(
        "trigger action the platform does not know (warning)",
        _with("dataset: raw}", "dataset: raw, trigger: {event: {actions: [Created, Create]}}}"),
        [
            "7:77: warning: trigger action 'Create' is not one the platform knows (did you mean "
            "'Created'?): Created, Updated, Deleted, statusChanged, Clone",
        ],
    ),
    Case(
        "unknown variable",
        _with("dataset: raw}", "datasetVariable: raw}"),
        ["7:26: unknown variable 'raw'; declare it in spec.variables"],
    ),
    Case(
        "variable value not of its type",
        _with(
            "spec:\n",
            "spec:\n  variables:\n    - {name: t, type: Float, value: '0.5'}\n"
            "    - {name: n, type: Integer, value: true}\n    - {name: ok, type: Float, value: 1}\n",
        ),
        [
            "7:30: variable value '0.5' is not a number, as type Float needs",
            "8:32: variable value boolean true is not an integer, as type Integer needs",
        ],
    ),
    Case(
        "duplicate variable",
        _with("spec:\n", "spec:\n  variables: [{name: a}, {name: a}]\n"),
        ["6:27: duplicate variable 'a'"],
    ),
    Case(
        "pulling task batch sizes that do not fit",
        _with("work: {type: code, code: 'print(1)'}", "work: {type: task, task: {batchSize: 5, maxBatchWorkload: 11}}"),
        ["8:45: maxBatchWorkload must be from batchSize + 2 to 2 x batchSize (7 to 10 for batchSize 5); got 11"],
    ),
    Case(
        "workload not adding up to 100",
        _with(
            "work: {type: code, code: 'print(1)'}",
            "work: {type: task, task: {workload: [{assignee: a@x.io, load: 50}]}}",
        ),
        ["8:31: workload loads add up to 50, not 100"],
    ),
]
