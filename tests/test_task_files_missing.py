"""The task_files_missing detector (the task's input files are not in the sandbox) and the loop detector's
relative steps (a bare "go back" acknowledged each time is moving, not stuck)."""

from __future__ import annotations

from failure_factory import assistant, bash, make_run, store_runs, tool, user

from triage.failures import analyze, detect, run_detections, run_signature
from triage.failures.context import RunContext

TASK = "Extract the insights from `/workspace/data/q3_metrics.xlsx` and write them to `/workspace/summary.txt`."


def hits(run, name: str):
    row = run.model_dump(exclude={"messages", "task"})
    return detect(RunContext(row, run.messages), [name])


def missing_run(run_id: str = "a"):
    return make_run(
        run_id,
        messages=[
            user(TASK),
            bash("python3 -c \"import openpyxl; openpyxl.load_workbook('/workspace/data/q3_metrics.xlsx')\""),
            tool("FileNotFoundError: [Errno 2] No such file or directory: '/workspace/data/q3_metrics.xlsx'"),
            bash("ls /workspace/data"),
            tool("ls: cannot access '/workspace/data': No such file or directory"),
            bash("find / -name q3_metrics.xlsx 2>/dev/null"),
            tool(""),
            assistant("The file q3_metrics.xlsx is not in the workspace; please provide it."),
        ],
    )


def test_fires_when_every_attempt_on_a_named_input_reports_it_missing() -> None:
    [d] = hits(missing_run(), "task_files_missing")
    assert d.category == "infrastructure" and d.message_index == 2
    assert d.detail["missing"] == ["q3_metrics.xlsx"] and d.detail["failed"] == 2  # the find that printed nothing
    assert d.detail["cause"] == "task_files_missing" and d.detail["confidence"] > 0.6


def test_not_for_outputs_files_found_later_or_a_single_slip() -> None:
    # The file the task asks to write is an output: reading it before writing it fails, twice.
    output = [
        user(TASK),
        bash("cat /workspace/summary.txt"),
        tool("cat: /workspace/summary.txt: No such file or directory"),
    ]
    output += [bash("head /workspace/summary.txt"), tool("head: cannot open '/workspace/summary.txt': No such file")]
    assert hits(make_run("o", messages=output), "task_files_missing") == []
    # A wrong path first, then the file is found and read: it was there.
    found = [user(TASK), bash("cat q3_metrics.xlsx"), tool("cat: q3_metrics.xlsx: No such file or directory")]
    found += [bash("ls /workspace/data/q3_metrics.xlsx"), tool("ls: cannot access 'q3_metrics.xlsx': No such file")]
    found += [bash("find / -name q3_metrics.xlsx"), tool("/srv/in/q3_metrics.xlsx")]
    assert hits(make_run("f", messages=found), "task_files_missing") == []
    # One failed attempt is a slip, not a missing input.
    once = [
        user(TASK),
        bash("cat /workspace/data/q3_metrics.xlsx"),
        tool("cat: /workspace/data/q3_metrics.xlsx: No such file"),
    ]
    assert hits(make_run("s", messages=once), "task_files_missing") == []
    # Mentioning the file to a person is no read: their reply says nothing about it existing.
    chat = [user(TASK), bash('chat_npc "Kim" "where is q3_metrics.xlsx?"'), tool("Kim: it is in /workspace/data")]
    chat += missing_run().messages[1:7]
    [d] = hits(make_run("c", messages=chat), "task_files_missing")
    assert d.detail["missing"] == ["q3_metrics.xlsx"]


def test_a_listing_of_the_input_folder_without_the_file_is_a_failed_attempt() -> None:
    """A clean listing of the folder the task puts its input in, without the input, is evidence it is missing;
    one that shows it means it is there; a listing of another folder (or of what `cd` led to) says nothing."""
    read = [
        user(TASK),
        bash("cat /workspace/data/q3_metrics.xlsx"),
        tool("cat: q3_metrics.xlsx: No such file or directory"),
    ]
    listing = read + [bash("ls -la /workspace/data"), tool("total 8\nnotes.md\nREADME")]
    [d] = hits(make_run("l", messages=listing), "task_files_missing")
    assert d.detail["missing"] == ["q3_metrics.xlsx"] and d.detail["failed"] == 2
    shown = read + [bash("ls /workspace/data/"), tool("notes.md  q3_metrics.xlsx")]
    assert hits(make_run("s", messages=shown), "task_files_missing") == []
    elsewhere = read + [bash("ls /workspace/data/archive"), tool("old.csv")]
    assert hits(make_run("e", messages=elsewhere), "task_files_missing") == []
    after_cd = read + [bash("cd /workspace/data && ls archive"), tool("old.csv")]
    assert hits(make_run("c", messages=after_cd), "task_files_missing") == []
    failed_listing = read + [bash("ls /workspace/data"), tool("ls: cannot access '/workspace/data': Permission denied")]
    assert hits(make_run("p", messages=failed_listing), "task_files_missing") == []


def test_not_for_documents_the_task_places_on_a_linked_service() -> None:
    """Absolute paths named beside a web address are on that service (a document store the agent browses),
    and so are other paths under the same top folder; a sandbox folder beside an address stays local."""
    task = (
        "The policy is at `/Documents/Admin/policy.pdf` on OwnCloud (http://files.example.com:8092).\n\n"
        "His travel record is in `/Documents/Financials/travel_log.csv`."
    )
    tries = [user(task)]
    for _ in range(2):
        tries += [
            bash("cat /Documents/Financials/travel_log.csv"),
            tool("cat: travel_log.csv: No such file or directory"),
        ]
    assert hits(make_run("r", messages=tries), "task_files_missing") == []
    local = [
        user("Read /workspace/data/q.csv (also served at http://files.example.com/q.csv)."),
        bash("head /workspace/data/q.csv"),
        tool("head: cannot open 'q.csv': No such file or directory"),
        bash("cat /workspace/data/q.csv"),
        tool("cat: q.csv: No such file or directory"),
    ]
    [d] = hits(make_run("l", messages=local), "task_files_missing")
    assert d.detail["missing"] == ["q.csv"]


def test_a_quoted_path_with_spaces_is_one_path() -> None:
    """`/Documents/Admin Team/Reimbursement Policy.pdf` is one document (on the linked service here), not a
    local "Policy.pdf"; a quoted local input with spaces is followed under its whole name."""
    remote = "The policy is `/Documents/Admin Team/Reimbursement Policy.pdf` on OwnCloud (http://files.example.com)."
    tries = [user(remote)]
    for _ in range(2):
        tries += [bash('cat "Policy.pdf"'), tool("cat: Policy.pdf: No such file or directory")]
    assert hits(make_run("r", messages=tries), "task_files_missing") == []
    local = [user("Summarise `/workspace/My Reports/Q3 Summary.docx` and save it to `/workspace/out.txt`.")]
    for verb in ("cat", "head"):
        local += [bash(f'{verb} "/workspace/My Reports/Q3 Summary.docx"'),
                  tool(f"{verb}: '/workspace/My Reports/Q3 Summary.docx': No such file or directory")]  # fmt: skip
    [d] = hits(make_run("l", messages=local), "task_files_missing")
    assert d.detail["missing"] == ["my reports", "q3 summary.docx"]  # the folder on the way is an input too


def test_a_program_that_never_started_proves_no_file_there() -> None:
    """A read that failed on an import (or a missing command) read nothing: it neither finds the input nor
    counts as an attempt; the failed reads around it still do."""
    script = "python3 -c \"from pyzbar.pyzbar import decode; decode('/workspace/data/q3_metrics.xlsx')\""
    messages = [user(TASK), bash(script), tool("Traceback (most recent call last):\nImportError: Unable to find zbar")]
    messages += missing_run().messages[1:3] + [bash("ls /workspace/data"), tool("notes.md")]
    [d] = hits(make_run("n", messages=messages), "task_files_missing")
    assert d.detail["missing"] == ["q3_metrics.xlsx"] and d.detail["failed"] == 2
    read = messages[:3] + [bash("python3 read.py /workspace/data/q3_metrics.xlsx"), tool("rows: 120")]
    assert hits(make_run("r", messages=read + messages[3:]), "task_files_missing") == []  # a real read: it is there


def test_the_missing_input_is_the_cause_over_the_agents_search_loop(db, tmp_path) -> None:
    messages = [user(TASK)]
    for _ in range(5):
        messages += [bash("find /workspace -name q3_metrics.xlsx"), tool("")]
    store_runs(db, [make_run("f", messages=messages, task_id="t", agent="a")], tmp_path)
    analyze(db)
    found = {d["detector"]: d for d in run_detections(db, "f")}
    assert found["task_files_missing"]["category"] == "infrastructure"
    assert found["loop"]["category"] is None and found["loop"]["detail"]["proposed"] == "repeated_actions"
    assert run_signature(db, "f")["cause"] == "task_files_missing"
    assert run_signature(db, "f")["detail"] == "q3_metrics.xlsx"


def test_a_repeated_bare_step_acknowledged_each_time_is_not_a_loop() -> None:
    back = [user("Open the report in the portal.")]
    for _ in range(5):
        back += [assistant("", ("browser_go_back", {})), tool("Navigated back", function="browser_go_back")]
    assert hits(make_run("b", messages=back), "loop") == []
    # The same bare step failing the same way every time is still a loop.
    stuck = [user("Open the report in the portal.")]
    for _ in range(5):
        stuck += [assistant("", ("browser_go_back", {})), tool("Error: no previous page", function="browser_go_back")]
    [d] = hits(make_run("s", messages=stuck), "loop")
    assert d.category == "repeated_actions"


def test_a_tool_call_with_no_arguments_is_read_without_error() -> None:
    """A call of the terminal tool with nothing to run (its action is the tool's name and a space) once made the
    detector raise IndexError, so the whole run went without it."""
    messages = missing_run().messages
    empty = make_run("e", messages=[*messages[:1], bash(""), tool(""), *messages[1:]])
    [d] = hits(empty, "task_files_missing")
    assert d.detail["missing"] == ["q3_metrics.xlsx"]
