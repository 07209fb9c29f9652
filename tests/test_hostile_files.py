"""Hostile files (issue 22, items 5-8): a planted symlink, a device, a FIFO, a zip bomb, mixed
encodings, a workbook that breaks half-way, and workers left behind by kill -9.

Store tests run on both backends (the ``store`` fixture); the command-line ones on SQLite, as a
user meets them, in a subprocess where a hang or a process left behind is what is tested.
"""

from __future__ import annotations

import csv
import os
import signal
import stat
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from crm_tui.store import NotFound, UsageError
from crm_tui.store.files import tabular
from crm_tui.store.files.importing import ImportStopped
from crm_tui.store.files.tabular import FileProblem

CRM = str(Path(sys.executable).parent / "crm")
DEADLINE = 60.0


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


def write_xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def names(store, actor) -> set[str]:
    return {row.customer.name for row in store.iter_export(actor)}


def wait_until(condition, what: str, deadline: float = DEADLINE) -> None:
    """Poll ``condition`` until it holds, failing with ``what`` after ``deadline`` seconds."""
    ends = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > ends:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


# --- item 5: the rejected-rows file never follows a symlink nor overwrites a stranger's file --


def test_rejected_file_never_writes_through_a_planted_symlink(store, admin, tmp_path):
    """B's symlink ``leads.rejected.csv`` points at A's private script; A's import must leave the
    script as it was and put the rejected rows in a fresh file of its own."""
    script = tmp_path / "private.sh"
    script.write_text("#!/bin/sh\necho mine\n")
    script.chmod(0o600)
    (tmp_path / "leads.rejected.csv").symlink_to(script)
    source = write_csv(tmp_path / "leads.csv", [
        ["name", "email", "notes"],
        ["Good Co", "good@example.com", ""],
        ["Bad Co", "not an email", "x\nrm -rf ~"],
    ])
    report = store.import_file(admin, source, pool=True)
    assert report.rejected == 1
    assert script.read_text() == "#!/bin/sh\necho mine\n"
    assert (tmp_path / "leads.rejected.csv").is_symlink()
    written = Path(report.rejected_file)
    assert written.name == "leads.rejected-2.csv"
    assert stat.S_ISREG(os.lstat(written).st_mode)
    with written.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["name"] for row in rows] == ["Bad Co"]
    assert rows[0]["notes"] == "x\nrm -rf ~"


@pytest.mark.skipif(os.geteuid() != 0, reason="making another account's file needs root")
def test_rejected_file_leaves_another_accounts_file_alone(store, admin, tmp_path):
    theirs = tmp_path / "leads.rejected.csv"
    theirs.write_text("their data\n")
    os.chown(theirs, 12345, 12345)
    source = write_csv(tmp_path / "leads.csv", [["name", "email"], ["Bad", "nope"]])
    report = store.import_file(admin, source, pool=True)
    assert theirs.read_text() == "their data\n"
    assert Path(report.rejected_file).name == "leads.rejected-2.csv"


def test_our_own_earlier_rejected_file_is_replaced(store, admin, tmp_path):
    source = write_csv(tmp_path / "leads.csv", [["name", "email"], ["Bad", "nope"]])
    first = store.import_file(admin, source, pool=True)
    second = store.import_file(admin, source, pool=True)
    assert first.rejected_file == second.rejected_file == str(tmp_path / "leads.rejected.csv")


# --- item 6: export replaces only a regular file ------------------------------------------


def test_export_replaces_a_symlink_not_its_target(store, admin, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    target = tmp_path / "out.csv"
    target.symlink_to(victim)
    store.export_customers(admin, target)
    assert victim.read_text() == "keep me\n"
    assert not target.is_symlink() and target.read_text(encoding="utf-8-sig").startswith("id,")


def test_export_writes_into_a_fifo_without_replacing_it(store, admin, tmp_path):
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    store.export_customers(admin, fifo)
    reader.join(DEADLINE)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert received and received[0].startswith(b"id,")


def test_export_to_a_full_device_is_a_sentence_and_the_device_stays(store, admin):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    with pytest.raises(UsageError, match="No space left"):
        store.export_customers(admin, "/dev/full", fmt="csv")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_export_to_dev_stdout_and_dash(sqlite_url, tmp_path):
    subprocess.run([CRM, "--db", sqlite_url, "init", "--demo", "5"], check=True,
                   capture_output=True, timeout=DEADLINE)
    for target, extra in (("/dev/stdout", ["--format", "csv"]), ("-", [])):
        done = subprocess.run([CRM, "--db", sqlite_url, "export", target, *extra],
                              capture_output=True, text=True, timeout=DEADLINE)
        assert done.returncode == 0, done.stderr
        assert done.stdout.lstrip("\ufeff").startswith("id,name"), done.stdout[:80]
        assert "Exported" not in done.stdout
    # Redirected to a file, /dev/stdout is that file: written through, the file left in place.
    out = tmp_path / "redirected.csv"
    with out.open("w") as handle:
        done = subprocess.run([CRM, "--db", sqlite_url, "export", "/dev/stdout", "--format",
                               "json"], stdout=handle, stderr=subprocess.PIPE, text=True,
                              timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    assert out.read_text().startswith("[")


# --- item 7: streams, bombs, caps, orphans ---------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
def test_import_refuses_a_stream_without_hanging(sqlite_url, tmp_path, kind):
    subprocess.run([CRM, "--db", sqlite_url, "init"], check=True, capture_output=True,
                   timeout=DEADLINE)
    if kind == "fifo":
        source = tmp_path / "leads.csv"
        os.mkfifo(source)
    else:
        source = Path("/dev/zero")
    done = subprocess.run([CRM, "--db", sqlite_url, "import", str(source)],
                          capture_output=True, text=True, timeout=DEADLINE)
    assert done.returncode == 2
    assert "not a regular file" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_open_table_refuses_devices_and_folders(tmp_path):
    with pytest.raises(FileProblem, match="not a regular file"):
        tabular.open_table("/dev/null")
    with pytest.raises(FileProblem, match="folder"):
        tabular.open_table(tmp_path)
    with pytest.raises(NotFound):
        tabular.open_table(tmp_path / "missing.csv")
    with pytest.raises(FileProblem, match="too long"):
        tabular.open_table(tmp_path / ("x" * 300 + ".csv"))


def test_xlsx_shared_strings_bomb_is_refused_before_it_is_read(tmp_path):
    """A few hundred KB that unpack to more shared text than crm reads: refused at once."""
    good = write_xlsx(tmp_path / "good.xlsx", {"Sheet": [["name"], ["Alpha"]]})
    bomb = tmp_path / "bomb.xlsx"
    entry = b"<si><t>" + b"A" * 1000 + b"</t></si>"
    count = tabular.XLSX_MAX_SHARED_STRINGS // len(entry) + 1
    with zipfile.ZipFile(good) as original, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as out:
        for item in original.infolist():
            out.writestr(item, original.read(item.filename))
        out.writestr("xl/sharedStrings.xml", b"<sst>" + entry * count + b"</sst>")
    assert bomb.stat().st_size < 2 << 20
    started = time.monotonic()
    with pytest.raises(FileProblem, match="shared text"):
        tabular.open_table(bomb)
    assert time.monotonic() - started < 10


def test_xlsx_unpacked_size_rows_and_cells_are_bounded(tmp_path, monkeypatch):
    source = write_xlsx(tmp_path / "wide.xlsx", {"Sheet": [["name", "phone"]] +
                                                 [[f"Co {i}", "1"] for i in range(50)]})
    monkeypatch.setattr(tabular, "XLSX_MAX_UNPACKED", 100)
    with pytest.raises(FileProblem, match="unpacks to"):
        tabular.open_table(source)
    monkeypatch.setattr(tabular, "XLSX_MAX_UNPACKED", 1 << 30)
    monkeypatch.setattr(tabular, "XLSX_MAX_CELLS", 20)
    with tabular.open_table(source) as table, pytest.raises(FileProblem, match="cells"):
        list(table.rows)
    monkeypatch.setattr(tabular, "XLSX_MAX_CELLS", 1 << 30)
    monkeypatch.setattr(tabular, "XLSX_MAX_ROWS", 10)
    with tabular.open_table(source) as table, pytest.raises(FileProblem, match="rows"):
        list(table.rows)


def test_demo_beyond_the_cap_is_refused_at_once(tmp_path):
    url = str(tmp_path / "demo.db")
    done = subprocess.run([CRM, "--db", url, "init", "--demo", "9999999999"],
                          capture_output=True, text=True, timeout=DEADLINE)
    assert done.returncode == 2
    assert "10,000,000" in done.stderr
    assert not Path(url).exists()


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


_IMPORT_UNTIL_KILLED = """
import sys, threading
from crm_tui.store import open_store
store = open_store(sys.argv[1])
actor = store.actor(sys.argv[3])
calls = []
def progress(done, total):
    calls.append(done)
    if len(calls) == 2:  # the workers are running
        print("ready", flush=True)
        threading.Event().wait()
store.import_file(actor, sys.argv[2], pool=True, batch_size=200, parallel=True, progress=progress)
"""

_DEMO_UNTIL_KILLED = """
import sys, threading
from datetime import date, datetime, timezone
from crm_tui.store.demo.chunks import chunks_from_worker
settings = dict(seed=1, n=200_000, now=datetime.now(timezone.utc), today=date.today(),
                sqlite=True, admin_id=1, rep_ids=[2, 3], tag_ids=[1, 2], first_id=1)
batches = chunks_from_worker(settings)
next(batches)
print("ready", flush=True)
threading.Event().wait()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("work", ["import", "demo"])
def test_workers_end_when_their_parent_is_killed(sqlite_url, tmp_path, work):
    if work == "import":
        subprocess.run([CRM, "--db", sqlite_url, "init"], check=True, capture_output=True,
                       timeout=DEADLINE)
        from crm_tui.config import os_login

        source = write_csv(tmp_path / "many.csv", [["name"]] +
                           [[f"Orphan Co {i}"] for i in range(3000)])
        argv = [sys.executable, "-c", _IMPORT_UNTIL_KILLED, sqlite_url, str(source), os_login()]
    else:
        argv = [sys.executable, "-c", _DEMO_UNTIL_KILLED]
    parent = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        assert line.strip() == "ready", parent.stderr.read() if parent.stderr else ""
        workers = _children(parent.pid)
        assert workers, "the work started no worker process"
        parent.send_signal(signal.SIGKILL)
        parent.wait(DEADLINE)
        wait_until(lambda: not any(_alive(pid) for pid in workers),
                   f"workers {sorted(workers)} to end after their parent was killed")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


# --- item 8: misread quietly no more ----------------------------------------------------------


def _mixed_rows() -> list[bytes]:
    return [b"name,notes\r\n", "张伟科技,utf8\r\n".encode(),
            "李强贸易有限公司,gbk\r\n".encode("gbk"), "Café Crème,latin\r\n".encode("latin-1")]


def test_a_csv_mixing_utf8_with_another_encoding_is_refused_before_anything_is_written(
        store, admin, tmp_path):
    source = tmp_path / "mixed.csv"
    source.write_bytes(b"".join(_mixed_rows()))
    before = names(store, admin)
    with pytest.raises(FileProblem, match=r"mixes text encodings \(line 2 is UTF-8, line 3"):
        store.import_file(admin, source, pool=True)
    assert names(store, admin) == before
    assert not (tmp_path / "mixed.rejected.csv").exists()


def test_with_an_encoding_named_the_rows_not_valid_in_it_are_rejected_with_the_reason(
        store, admin, tmp_path):
    source = tmp_path / "mixed.csv"
    source.write_bytes(b"".join(_mixed_rows()))
    report = store.import_file(admin, source, pool=True, encoding="utf-8")
    assert (report.added, report.rejected) == (1, 2)
    assert "张伟科技" in names(store, admin)
    assert all("not valid text" in problem["reason"] for problem in report.problems)
    rejected = Path(report.rejected_file).read_bytes()
    assert "李强贸易有限公司".encode("gbk") in rejected  # given back as it was


def test_gbk_with_a_latin1_row_stays_gbk_and_the_odd_row_is_rejected(store, admin, tmp_path):
    source = tmp_path / "gbk.csv"
    source.write_bytes(b"".join([
        b"name,notes\r\n", "李强贸易有限公司,一\r\n".encode("gbk"),
        "王芳科技有限公司,二\r\n".encode("gbk"), "Crème Brûlée SA,é\r\n".encode("latin-1"),
    ]))
    report = store.import_file(admin, source, pool=True)
    assert report.encoding == "gb18030"
    assert {"李强贸易有限公司", "王芳科技有限公司"} <= names(store, admin)
    assert report.added == 2 and report.rejected == 1
    assert report.problems[0]["row"] == 4


def test_unknown_or_non_text_encoding_is_a_usage_error(store, admin, tmp_path):
    source = write_csv(tmp_path / "leads.csv", [["name"], ["Alpha"]])
    for encoding in ("rot13", "no-such-encoding", "base64"):
        with pytest.raises(FileProblem, match="Unknown encoding"):
            store.import_file(admin, source, encoding=encoding)


def test_the_first_sheet_with_data_is_used_and_sheet_chooses(store, admin, tmp_path):
    source = write_xlsx(tmp_path / "book.xlsx", {
        "Cover": [], "Data": [["name"], ["Sheet Two Co"]], "Other": [["name"], ["Sheet Three Co"]],
    })
    report = store.import_file(admin, source, pool=True)
    assert (report.sheet, report.added) == ("Data", 1)
    report = store.import_file(admin, source, pool=True, sheet="other")
    assert (report.sheet, report.added) == ("Other", 1)
    assert {"Sheet Two Co", "Sheet Three Co"} <= names(store, admin)
    with pytest.raises(FileProblem, match="no sheet 'Nope'; its sheets are 'Cover', 'Data'"):
        store.import_file(admin, source, sheet="Nope")


def _broken_workbook(path: Path, rows: int, broken_at: int) -> Path:
    good = write_xlsx(path.with_name("good.xlsx"), {"Sheet": [["name", "email"]] + [
        [f"Broken Co {i}", "bad" if i == 3 else f"b{i}@example.com"] for i in range(rows)]})
    with zipfile.ZipFile(good) as original, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                at = data.index(f'<row r="{broken_at}"'.encode())
                data = data[:at] + b'<row r="x"><c><v>1</v></row>' + data[at + 40:]
            out.writestr(item, data)
    return path


def test_a_workbook_broken_half_way_keeps_what_was_read_and_reports_it(store, admin, tmp_path):
    source = _broken_workbook(tmp_path / "broken.xlsx", rows=600, broken_at=502)
    with pytest.raises(ImportStopped) as stopped:
        store.import_file(admin, source, pool=True, batch_size=200)
    report = stopped.value.report
    assert stopped.value.exit_code == 2
    assert report.read == 500 and report.added == 499 and report.rejected == 1
    assert "after row 501" in report.stopped and "499 added" in report.stopped
    assert "Broken Co 498" in names(store, admin)  # the partial last batch was imported too
    assert Path(report.rejected_file).exists()


def test_the_cli_prints_the_report_of_a_broken_workbook_with_exit_2(sqlite_url, tmp_path):
    subprocess.run([CRM, "--db", sqlite_url, "init"], check=True, capture_output=True,
                   timeout=DEADLINE)
    source = _broken_workbook(tmp_path / "broken.xlsx", rows=300, broken_at=202)
    done = subprocess.run([CRM, "--db", sqlite_url, "import", str(source), "--pool"],
                          capture_output=True, text=True, timeout=DEADLINE)
    assert done.returncode == 2, done.stderr
    assert "rows read" in done.stdout and "broken.rejected.csv" in done.stdout
    assert "The import stopped" in done.stderr and "committed" in done.stderr
    assert "unexpected" not in done.stderr

