"""Whether a results folder's pickled state is this user's own, before anything unpickles it.

Resuming loads Ray's state by unpickling it (`tuner.pkl`, `searcher-state-*.pkl`,
`search_gen_state-*.json`, the encoded fields of `experiment_state-*.json`), and unpickling runs
whatever code the file names. So the tuner signs what it writes: after each save of Ray's
state, `sign_folder` writes `SIGNATURE`, a manifest of those files' SHA-256 digests with an
HMAC-SHA256 over it, keyed by a per-user secret kept outside every folder
(`$XDG_CONFIG_HOME/lr-tuner/signing.key`, else `~/.config/lr-tuner/signing.key`, created 0600),
as notebook tools do to trust notebooks; Ray's staged state is signed as soon as Ray has
written it (`tuner.relocation.RelocatedSearch.save_to_dir`), before Ray copies it into the
folder. `check_folder` refuses to resume a folder whose
pickled files are not all signed with that key and unchanged since, unless told to trust it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from pathlib import Path

from trainables.lr.errors import TunerError

SIGNATURE = ".tuner_signature.json"
KEY_FILE = "signing.key"
#: the files of a folder that Ray unpickles when it resumes, and Ray's backups of them
PICKLED = (
    "tuner.pkl",
    "experiment_state-*.json",
    "search_gen_state-*.json",
    "searcher-state-*.pkl",
    "callback-states-*.pkl",
)
BACKUPS = (".state_backup", ".state_backup.old")
_VERSION = 1


class UntrustedFolder(TunerError):
    """A folder whose pickled state is not this user's own, signed and unchanged."""


def key_path() -> Path:
    """Where this user's signing key lives (outside every results folder)."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "lr-tuner" / KEY_FILE


def user_key() -> bytes:
    """This user's signing key, created (0600, in a 0700 folder) on first use."""
    path = key_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    info = path.stat()
    if info.st_uid != os.geteuid() or info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise TunerError(
            f"{path}: the signing key must be yours and readable by you alone "
            f"(mode {stat.S_IMODE(info.st_mode):o}): run `chmod 600 {path}`"
        )
    key = path.read_bytes()
    if len(key) < 32:
        raise TunerError(f"{path}: the signing key is damaged: delete it to make a new one")
    return key


def pickled_files(exp_dir: Path) -> list[Path]:
    """Every file of `exp_dir` (and of its state backups) that a resume may unpickle."""
    folders = [exp_dir, *(exp_dir / name for name in BACKUPS)]
    found = {path for folder in folders for pattern in PICKLED for path in folder.glob(pattern)}
    return sorted(path for path in found if path.is_file())


def _digest(path: Path) -> str:
    digest = hashlib.sha256()  # by chunks: `hashlib.file_digest` is Python 3.11+
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _mac(key: bytes, files: dict[str, list[str]]) -> str:
    body = json.dumps({"version": _VERSION, "files": files}, sort_keys=True).encode()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def sign_folder(exp_dir: Path, staged: Path | None = None) -> None:
    """Sign the pickled files `exp_dir` holds now, and, when Ray has just written new state
    into its staging folder `staged` (to be copied into `exp_dir` next), those too: a name
    may then carry two digests, the one in the folder and the one on its way, so the folder
    is signed whether or not the copy happened (the manifest is replaced atomically)."""
    exp_dir = Path(exp_dir)
    files: dict[str, set[str]] = {}
    for path in pickled_files(exp_dir):
        files.setdefault(path.relative_to(exp_dir).as_posix(), set()).add(_digest(path))
    if staged is not None:
        for path in pickled_files(Path(staged)):
            if path.parent == Path(staged):
                files.setdefault(path.name, set()).add(_digest(path))
    listed = {name: sorted(digests) for name, digests in sorted(files.items())}
    manifest = {"version": _VERSION, "files": listed, "hmac": _mac(user_key(), listed)}
    staging = exp_dir / f"{SIGNATURE}.new"
    staging.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    staging.replace(exp_dir / SIGNATURE)


def signed_digests(exp_dir: Path) -> dict[str, list[str]]:
    """The digests `exp_dir`'s manifest holds, once its HMAC is checked with this user's key;
    `UntrustedFolder` when it is missing, damaged or not signed with that key."""
    path = Path(exp_dir) / SIGNATURE
    if not path.is_file():
        raise UntrustedFolder(_refusal(exp_dir, "it carries no signature of yours"))
    try:
        manifest = json.loads(path.read_bytes())
        files, mac = manifest["files"], manifest["hmac"]
        ok = isinstance(files, dict) and isinstance(mac, str)
    except (OSError, ValueError, TypeError, KeyError):
        ok = False
    if not ok or not hmac.compare_digest(_mac(user_key(), files), mac):
        why = "its signature is not yours (another user's or machine's key) or was altered"
        raise UntrustedFolder(_refusal(exp_dir, why))
    return files


def unsigned(exp_dir: Path, files: list[Path], signed: dict[str, list[str]]) -> list[str]:
    """Which of `files` (in `exp_dir`) are not signed as they are now."""
    names = []
    for path in files:
        name = path.relative_to(exp_dir).as_posix()
        digests = signed.get(name)
        if not isinstance(digests, list) or _digest(path) not in digests:
            names.append(name)
    return names


def _refusal(exp_dir: Path, why: str, files: list[str] | None = None) -> str:
    listed = f" ({', '.join(files[:5])}{', ...' if len(files) > 5 else ''})" if files else ""
    return (
        f"{exp_dir}: will not load its saved Ray state{listed}: {why}. Loading it unpickles "
        "those files, which runs any code they name. If the folder is yours (made before "
        "folders were signed, or its key was replaced) or you trust whoever made it, resume "
        "with --trust; `best`, `export` and `report` read it without loading them"
    )


def check_folder(exp_dir: Path) -> list[str]:
    """The pickled files of `exp_dir` (relative names) not signed with this user's key as
    they are now; `UntrustedFolder` when the folder carries no valid signature of this user's
    at all. `tuner.state_backup.trusted_state` decides what to do with them."""
    exp_dir = Path(exp_dir)
    return unsigned(exp_dir, pickled_files(exp_dir), signed_digests(exp_dir))


def refuse(exp_dir: Path, names: list[str]) -> UntrustedFolder:
    """The refusal to load `exp_dir`'s state whose files `names` are unsigned or altered."""
    return UntrustedFolder(_refusal(exp_dir, "these files are not signed as they are now", names))
