"""Hostile trainable names: standard-library callables (refused before their module is imported),
undeclared callables, malformed paths, and modules that fail as they are imported or checked."""

from __future__ import annotations

from tests.hostile.corpus import BASE, Case, base_text, dump

#: (import path, the module that must stay unimported when validate refuses it)
STDLIB: list[tuple[str, str]] = [
    ("os:system", "os"),
    ("os:sep", "os"),
    ("os.path:join", "os"),
    ("posix:system", "posix"),
    ("subprocess:run", "subprocess"),
    ("subprocess:Popen", "subprocess"),
    ("builtins:exec", "builtins"),
    ("builtins:eval", "builtins"),
    ("builtins:open", "builtins"),
    ("builtins:__import__", "builtins"),
    ("logging.config:dictConfig", "logging.config"),
    ("logging:basicConfig", "logging"),
    ("shutil:rmtree", "shutil"),
    ("pickle:loads", "pickle"),
    ("marshal:loads", "marshal"),
    ("ctypes:CDLL", "ctypes"),
    ("importlib:import_module", "importlib"),
    ("runpy:run_path", "runpy"),
    ("code:interact", "code"),
    ("pdb:set_trace", "pdb"),
    ("pty:spawn", "pty"),
    ("webbrowser:open", "webbrowser"),
    ("antigravity:geohash", "antigravity"),
    ("this:s", "this"),
    ("sys:exit", "sys"),
    ("socket:create_connection", "socket"),
    ("http.server:test", "http.server"),
    ("urllib.request:urlopen", "urllib.request"),
    ("tempfile:mkdtemp", "tempfile"),
    ("multiprocessing:Process", "multiprocessing"),
    ("asyncio:run", "asyncio"),
    ("json:loads", "json"),
    ("pathlib:Path", "pathlib"),
    ("io:open", "io"),
    ("gc:collect", "gc"),
    ("signal:raise_signal", "signal"),
    ("threading:Thread", "threading"),
    ("atexit:register", "atexit"),
    ("_posixsubprocess:fork_exec", "_posixsubprocess"),
    ("smtplib:SMTP", "smtplib"),
    ("ftplib:FTP", "ftplib"),
    ("xmlrpc.server:SimpleXMLRPCServer", "xmlrpc.server"),
    ("pydoc:cli", "pydoc"),
    ("timeit:main", "timeit"),
    ("trace:main", "trace"),
    ("venv:create", "venv"),
    ("ensurepip:bootstrap", "ensurepip"),
    ("idlelib.idle:main", "idlelib.idle"),
    ("turtle:done", "turtle"),
    ("tkinter:Tk", "tkinter"),
    ("zipfile:ZipFile", "zipfile"),
    ("tarfile:open", "tarfile"),
    ("doctest:testmod", "doctest"),
    ("cProfile:run", "cProfile"),
    ("compileall:compile_dir", "compileall"),
    ("wsgiref.simple_server:make_server", "wsgiref.simple_server"),
    ("imaplib:IMAP4", "imaplib"),
]

#: (import path, what the refusal says): importable, but not declared trainables
UNDECLARED: list[tuple[str, str]] = [
    ("tests.hostile.declared:plain", "does not declare itself a trainable"),
    ("tests.hostile.declared:constant", "does not declare itself a trainable"),
    ("tests.hostile.declared:layers", "does not declare itself a trainable"),
    ("tests.hostile.declared:Model", "does not declare itself a trainable"),
    ("tests.hostile.declared:CONSTANT", "is not a function (its type: int)"),
    ("tests.hostile.declared:missing", "tests.hostile.declared has no 'missing'"),
    ("yaml:safe_load", "does not declare itself a trainable"),
    ("yaml:unsafe_load", "does not declare itself a trainable"),
    ("optuna:create_study", "does not declare itself a trainable"),
    ("pydantic:BaseModel", "does not declare itself a trainable"),
    ("tuner.cli:main", "does not declare itself a trainable"),
    ("tuner.api:run_space", "does not declare itself a trainable"),
    ("tuner.__main__:exit_now", "does not declare itself a trainable"),
    ("trainables.declare:trainable", "does not declare itself a trainable"),
    ("trainables.registry:small_dsr_model", "does not declare itself a trainable"),
    ("nosuchpackage_h16:train", "module 'nosuchpackage_h16' cannot be found"),
    ("tests.hostile.nosuch:train", "module 'tests.hostile.nosuch' cannot be found"),
]

#: names that are not import paths at all (nor registered trainables)
MALFORMED = ["os:", ":system", "os::system", "os:system:x", "a..b:f", "1os:system", "os.:system"]
MALFORMED += ["os:sys tem", "../evil:f", "/etc/passwd:f", "os:system()", "os:system\nx"]


def _module_case(name: str, source: str | bytes, *expect: str, **fields: object) -> Case:
    module = f"hx_{name}"
    text = base_text(trainable=f"{module}:train", **fields)
    return Case(f"module_{name}", text, expect, modules={f"{module}.py": source})


_DECLARE = "from trainables.declare import trainable\n"
_TRAIN = "@trainable\ndef train(config):\n    pass\n"
_LONG = "x" * 5000

MODULES: list[Case] = [
    _module_case("syntax", _DECLARE + "def train(config)\n    pass\n", "SyntaxError", "line 2"),
    _module_case("raises", "x = 1\nraise RuntimeError('boom')\n", "RuntimeError: boom", "line 2"),
    _module_case("exits", "import sys\nsys.exit(3)\n", "SystemExit: 3", "line 2"),
    _module_case("missing_dep", "import hx_not_installed\n", "No module named 'hx_not_installed'"),
    _module_case("long_error", f"raise ValueError('{_LONG}')\n", "ValueError: xxx", "more char"),
    _module_case("newline_error", "raise ValueError('a\\nb\\x1b[2J')\n", "ValueError: a b\\x1b[2J"),
    _module_case("recursion", "def f():\n    f()\nf()\n", "RecursionError"),
    _module_case("memory", "raise MemoryError('pretend')\n", "MemoryError: pretend"),
    _module_case("bad_encoding", b"\xff\xfe\xfa = 1\n", "SyntaxError"),
    _module_case("null_byte", b"x = 1\x00\n", "importing hx_null_byte failed"),
    _module_case("groups_int_at_import", _DECLARE + "@trainable(groups=5)\ndef train(c): ...\n",
                 "TypeError: @trainable(groups=...) takes a list of names, not 5", "line 2"),
    _module_case("groups_ints_at_import", _DECLARE + "@trainable(groups=[1])\ndef train(c): ...\n",
                 "TypeError: @trainable(groups=...) takes non-empty names"),
    _module_case("groups_int", _DECLARE + _TRAIN + "train.groups = 5\n", "declares groups = 5"),
    _module_case("groups_str", _DECLARE + _TRAIN + "train.groups = 'embed'\n", "declares groups"),
    _module_case("groups_none_name", _DECLARE + _TRAIN + "train.groups = [None]\n",
                 "declares groups (None,)"),
    _module_case("groups_blank", _DECLARE + _TRAIN + "train.groups = ['', 'a']\n", "groups ('',"),
    _module_case("groups_endless", _DECLARE + _TRAIN + "train.groups = range(10**12)\n",
                 "declares groups (0, 1, 2", "more characters)"),
    _module_case("groups_raise", _DECLARE + _TRAIN + "class G:\n    def __iter__(self):\n"
                 "        yield 'a'\n        raise KeyError('no')\ntrain.groups = G()\n",
                 "its groups raised KeyError", "line 8"),
    _module_case("problems_raise", _DECLARE + "def bad(config):\n    return 1 / 0\n"
                 "@trainable(config_problems=bad)\ndef train(config): ...\n",
                 "its config_problems raised ZeroDivisionError", "line 3"),
    _module_case("problems_int", _DECLARE + _TRAIN + "train.config_problems = 5\n",
                 "declares config_problems = 5, not a function"),
    _module_case("problems_returns_int", _DECLARE + _TRAIN + "train.config_problems = "
                 "lambda config: 5\n", "its config_problems raised TypeError"),
    _module_case("problems_returns_str", _DECLARE + _TRAIN + "train.config_problems = "
                 "lambda config: ['bad']\n", "its config_problems returned ['bad']"),
    _module_case("problems_long_raise", _DECLARE + _TRAIN + "def bad(config):\n    raise "
                 f"ValueError('{_LONG}')\ntrain.config_problems = bad\n", "more char"),
    _module_case("getattr_raises", "def __getattr__(name):\n    raise RuntimeError('no ' + name)\n",
                 "reading train of hx_getattr_raises failed with RuntimeError: no train", "line 2"),
    _module_case("kind_raises", "class Sly:\n    def __getattr__(self, name):\n        raise "
                 "RuntimeError('sly')\n    def __call__(self, config): ...\ntrain = Sly()\n",
                 "'hx_kind_raises:train' does not declare itself a trainable"),
    _module_case("population_int", _DECLARE + _TRAIN + "train.population = 5\n",
                 "population is 2, but the trainable", population=2),
    Case(
        "module_package_init_raises",
        base_text(trainable="hxpkg_init.sub:train"),
        ("importing hxpkg_init.sub failed with RuntimeError: init", "__init__.py, line 1"),
        modules={"hxpkg_init/__init__.py": "raise RuntimeError('init')\n",
                 "hxpkg_init/sub.py": _DECLARE + _TRAIN},
    ),
]  # fmt: skip


def trainable_cases() -> list[Case]:
    """Every hostile trainable name, each in an otherwise valid space file."""
    cases = []
    for i, (path, module) in enumerate(STDLIB):
        top = module.split(".")[0]
        expect = (f"trainable: {path!r} names the standard-library module {top!r}",)
        text = base_text(trainable=path)
        cases.append(Case(f"stdlib_{i:02d}", text, expect, not_imported=(module,)))
    for i, (path, said) in enumerate(UNDECLARED):
        expect = (f"trainable: {path!r}", said)
        cases.append(Case(f"undeclared_{i:02d}", base_text(trainable=path), expect))
    for i, path in enumerate(MALFORMED):
        expect = ("trainable: ", "is not a registered trainable")
        cases.append(Case(f"malformed_{i:02d}", base_text(trainable=path), expect))
    # a shell command through `fixed`, as logging.config.dictConfig would run it
    handler = {"()": "os.system", "command": "touch pwned"}
    fixed = {"version": 1, "handlers": {"h": handler}}
    data = {**BASE, "trainable": "logging.config:dictConfig", "fixed": fixed}
    expect = ("trainable: 'logging.config:dictConfig' names the standard-library module",)
    cases.append(Case("fixed_dictconfig", dump(data), expect, not_imported=("logging.config",)))
    data = {**BASE, "trainable": "subprocess:run", "fixed": {"args": ["touch", "pwned"]}}
    expect = ("trainable: 'subprocess:run' names the standard-library module",)
    cases.append(Case("fixed_subprocess", dump(data), expect))
    return cases + MODULES
