"""The layering rules of ARCHITECTURE.md, enforced."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "crm_tui"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_store_imports_no_ui_in_a_fresh_interpreter():
    code = (
        "import sys, crm_tui.store, crm_tui.store.schema.setup, crm_tui.store.schema.migrate;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'typer')];"
        "print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_store_source_never_imports_ui():
    for path in (SRC / "store").rglob("*.py"):
        assert not _imported_modules(path) & {"textual", "typer"}, path


def test_screens_and_widgets_never_touch_the_database_layer():
    checked = 0
    for folder in ("tui", "present"):
        for path in (SRC / folder).rglob("*.py"):
            assert not _imported_modules(path) & {"sqlalchemy", "sqlmodel", "sqlite3", "psycopg"}, path
            checked += 1
    assert checked > 20, "the TUI's folders moved: point this test at them"


def test_the_store_api_loads_no_sqlalchemy():
    """``store/api.py`` declares what the app may ask of its store; the app loads it before the
    first rows, so it names the records for the type checker only."""
    code = (
        "import sys, crm_tui; crm_tui.STORE_ON_DEMAND = True;"
        "import crm_tui.store.api, crm_tui.store.helper.transport, crm_tui.tui.screens.base;"
        "print('sqlalchemy' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_cli_find_path_does_not_import_textual():
    code = (
        "import sys; sys.argv=['crm','--help'];"
        "import crm_tui.cli.app;"
        "print(any(m.startswith('textual') for m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_crm_find_with_chinese_loads_no_pinyin(tmp_path):
    """Pinyin (pypinyin and the phrase list) costs ``crm find`` more than its whole budget
    (DESIGN §9): it loads where tokens and sort keys are written, never for a search."""
    db = tmp_path / "find.db"
    subprocess.run([str(Path(sys.executable).parent / "crm"), "--db", str(db), "init"],
                   check=True, capture_output=True)
    code = (
        "import sys\n"
        "from crm_tui.cli.app import main\n"
        "sys.argv = ['crm', '--db', sys.argv[1], 'find', '张伟']\n"
        "import atexit\n"
        "atexit.register(lambda: print('PINYIN' if any(m.startswith('pypinyin') or "
        "m.endswith('phrase_table') for m in sys.modules) else 'CLEAN', file=sys.stderr))\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True)
    assert "CLEAN" in result.stderr, result.stderr
