"""Each named detector: a run it must flag (with the message index of its evidence) and one it must not."""

from __future__ import annotations

import yaml
from failure_factory import assistant, bash, make_run, store_runs, system, tool, user

from triage.config import default_taxonomy_path
from triage.failures import DETECTORS, analyze, detect, run_detections, run_signature
from triage.failures.context import RunContext


def hits(run, name: str):
    row = run.model_dump(exclude={"messages", "task"})
    return detect(RunContext(row, run.messages), [name])


def one(run, name: str):
    found = hits(run, name)
    assert len(found) == 1, found
    return found[0]


def test_detector_names_and_categories_match_the_taxonomy() -> None:
    taxonomy = yaml.safe_load(default_taxonomy_path().read_text())
    ids = {c["id"] for c in taxonomy["categories"]}
    named = {d for c in taxonomy["categories"] for d in c.get("detectors", [])}
    assert named == set(DETECTORS)
    for detector in DETECTORS.values():
        assert set(detector.categories) <= ids, detector.name


# --- infra_error -----------------------------------------------------------------------------------
def test_infra_error_from_the_run_error_and_from_a_tool_error() -> None:
    run = make_run(
        "a", status="error", error="openai.RateLimitError: Error code: 429 - Too Many Requests",
        messages=[user("q"), assistant("thinking")],
    )  # fmt: skip
    d = one(run, "infra_error")
    assert d.category == "infrastructure" and d.detail["kind"] == "rate_limit" and d.message_index == 1
    sandbox = make_run(
        "b", messages=[user("q"), bash("ls"), tool("", error="Sandbox failed to start: container exited (137)")]
    )
    d = one(sandbox, "infra_error")
    assert d.message_index == 2 and d.detail["kind"] == "sandbox"


def test_infra_error_ignores_the_agents_own_connection_errors() -> None:
    run = make_run("a", messages=[user("q"), bash("curl localhost:8000"), tool("curl: (7) Connection refused")])
    assert hits(run, "infra_error") == []


# --- usage_limit -----------------------------------------------------------------------------------
def test_usage_limit_proposes_by_progress() -> None:
    # Failing tests early, then new fixes with tests passing more and more: positive evidence of progress.
    early = [m for i in range(8) for m in (bash(f"vim fix_{i}.py && pytest"), tool(f"FAILED test_{i} - AssertionErr"))]
    late = [
        m for i in range(4) for m in (bash(f"edit part_{i}.py && pytest -k p{i}"), tool(f"{9 + i} passed in 0.{i}s"))
    ]
    moving = one(make_run("m", status="limit", limit_type="time", messages=[user("go"), *early, *late]), "usage_limit")
    assert moving.category == "budget_binding" and moving.detail["advancing"] is True
    assert moving.detail["cause"] == "limit_progressing"
    assert moving.message_index == 24  # where the run stopped
    # New actions with new outputs but nothing passing and nothing receding: stalled, whatever it tried.
    varied = [m for i in range(10) for m in (bash(f"python train.py --lr {10**-i}"), tool(f"loss {i * 7 % 5}.{i}{i}"))]
    busy = one(make_run("b", status="limit", limit_type="time", messages=[user("go"), *varied]), "usage_limit")
    assert busy.detail["progressing"] is True and busy.detail["advancing"] is False
    assert busy.category == "no_progress" and busy.detail["cause"] == "limit_stalled"
    stuck = [m for _ in range(10) for m in (bash("python train.py"), tool("RuntimeError: CUDA out of memory"))]
    stalled = one(make_run("s", status="limit", limit_type="token", messages=[user("go"), *stuck]), "usage_limit")
    assert stalled.category == "no_progress" and stalled.detail["progressing"] is False
    # A context limit is context_overflow's to explain.
    context = one(make_run("c", status="limit", limit_type="context", messages=[user("go"), *varied]), "usage_limit")
    assert context.category is None


def test_usage_limit_needs_a_limit() -> None:
    assert hits(make_run("a", messages=[user("q"), assistant("no")]), "usage_limit") == []


# --- loop ------------------------------------------------------------------------------------------
def test_loop_flags_repeated_actions_with_the_same_result() -> None:
    messages = [user("fix"), bash("ls"), tool("a.py")]
    for _ in range(5):
        messages += [bash("python a.py"), tool("SyntaxError: invalid syntax")]
    d = one(make_run("a", messages=messages), "loop")
    assert d.category == "repeated_actions"
    assert d.message_index == 3  # the first of the repeated actions
    assert d.detail["repeats"] >= 3


def test_loop_ignores_paging_through_a_file() -> None:
    names = ["parse", "load", "render", "save", "merge", "split", "score", "train"]
    messages = [user("read")]
    for i, name in enumerate(names):
        page = "\n".join(f"def {name}_{j}(value):\n    return {name}(value, {j})" for j in range(10))
        messages += [bash(f"sed -n {i * 50 + 1},{i * 50 + 50}p big.py"), tool(page)]
    assert hits(make_run("a", messages=messages), "loop") == []


def test_results_of_parallel_tool_calls_answer_their_own_call() -> None:
    """One message with several tool calls: each result is the output of the call it names by id (in
    whatever order the results come), else of the call in its place; a single call keeps every result."""
    from triage.models import Message, ToolCall

    def calls(*pairs):
        return Message(
            role="assistant", tool_calls=[ToolCall(id=i, function="bash", arguments={"cmd": c}) for i, c in pairs]
        )

    def result(text, call_id=None):
        return Message(role="tool", content=text, function="bash", tool_call_id=call_id)

    by_id = [user("go"), calls(("a", "pip install x"), ("b", "cat in.txt")), result("hello", "b"), result("ok", "a")]
    by_place = [user("go"), calls((None, "pip install x"), (None, "cat in.txt")), result("ok"), result("hello")]
    single = [user("go"), bash("make"), tool("step 1"), tool("step 2")]
    for messages in (by_id, by_place):
        ctx = RunContext({"id": "r"}, messages)
        answered = {ctx.command_of(o).text: o.content for o in ctx.observations}
        assert answered == {"bash pip install x": "ok", "bash cat in.txt": "hello"}
        assert [ctx.result_of(a).content for a in ctx.actions] == ["ok", "hello"]
    ctx = RunContext({"id": "r"}, single)
    assert [ctx.command_of(o).text for o in ctx.observations] == ["bash make", "bash make"]
    assert ctx.result_of(ctx.actions[0]).content == "step 1"


# --- format_error ----------------------------------------------------------------------------------
def test_format_error_from_scaffold_feedback() -> None:
    messages = [
        system("Reply with exactly one bash block."),
        user("fix it"),
        assistant("```bash\nls\n```\n```bash\npwd\n```"),
        user("Please always provide EXACTLY ONE action in triple backticks, found 2 actions."),
        assistant("```bash\nls\n```"),
    ]
    d = one(make_run("a", messages=messages), "format_error")
    assert d.category == "format_misuse" and d.message_index == 3


def test_format_error_from_unparsed_arguments_and_parse_errors() -> None:
    messages = [user("q"), assistant("", ("bash", '{"cmd": "ls"')), tool("", error="parsing: Expecting ',' delimiter")]
    d = one(make_run("a", messages=messages), "format_error")
    # The run ended on them: the last one is the evidence and they are the cause.
    assert d.message_index == 2 and d.detail["count"] == 2 and d.category == "format_misuse"


def test_format_error_ignores_the_agents_programs() -> None:
    messages = [
        user("q"),
        bash("python parse.py"),
        tool("json.decoder.JSONDecodeError: Expecting value: line 1", error="returncode 1"),
        bash("python app.py"),
        tool("TypeError: run() got an unexpected keyword argument 'x'"),
    ]
    assert hits(make_run("a", messages=messages), "format_error") == []


# --- refusal ---------------------------------------------------------------------------------------
def test_refusal_as_the_last_word() -> None:
    messages = [user("Write the exploit."), assistant("I'm sorry, but I can't help with creating malware.")]
    d = one(make_run("a", messages=messages), "refusal")
    assert d.category == "refusal" and d.message_index == 1


def test_refusal_ignores_ordinary_difficulty() -> None:
    messages = [user("q"), assistant("I can't find the file, let me search."), bash("find / -name x"), tool("x")]
    assert hits(make_run("a", messages=messages), "refusal") == []


# --- gave_up ---------------------------------------------------------------------------------------
def test_gave_up_by_words_and_by_empty_submission() -> None:
    words = make_run("a", messages=[user("q"), bash("ls"), tool("a"), assistant("I am unable to solve this task.")])
    d = one(words, "gave_up")
    assert d.category == "gave_up" and d.message_index == 3
    empty = make_run(
        "b", messages=[user("q"), bash("ls"), tool("a"), assistant("", ("submit", {"answer": ""})), tool("ok")],
        submission="", success=False,
    )  # fmt: skip
    d = one(empty, "gave_up")
    assert d.message_index == 3 and d.detail["rule"] == "empty or placeholder submission"


def test_gave_up_not_for_a_real_attempt_or_a_limit() -> None:
    attempt = make_run("a", messages=[user("q"), bash("ls"), tool("a"), bash("cat a"), tool("1"), bash("python a"),
                                      tool("2"), assistant("The answer is 42.")],
                       submission="42", success=False)  # fmt: skip
    assert hits(attempt, "gave_up") == []
    limited = make_run("b", status="limit", limit_type="token", messages=[user("q"), assistant("I give up.")])
    assert hits(limited, "gave_up") == []


# --- missing_dependency ----------------------------------------------------------------------------
def test_missing_dependency_names_what_is_missing() -> None:
    messages = [
        user("q"), bash("jq . data.json"), tool("bash: jq: command not found"),
        bash("python -c 'import numpy'"), tool("ModuleNotFoundError: No module named 'numpy'"),
    ]  # fmt: skip
    d = one(make_run("a", messages=messages), "missing_dependency")
    # The run ended at the missing module: it blocked the task, and the blocking report is the evidence.
    assert d.category == "missing_env_knowledge" and d.message_index == 4 and d.detail["blocked"] is True
    assert d.detail["missing"] == ["jq", "numpy"]


def test_missing_dependency_blocked_a_run_that_gave_up_in_its_submission(db, tmp_path) -> None:
    """Giving up in the submission ("cannot complete: packages not installed") is no answer: the missing
    dependencies that kept failing up to it blocked the task and are the cause; a real answer is not blocked."""
    tries = [user("recover the key"), bash("xortool -b c.bin"), tool("bash: xortool: command not found"),
             bash("pip install xortool"), tool("bash: pip: command not found")]  # fmt: skip
    gave_up = make_run(
        "g",
        messages=[*tries, assistant("", ("submit", {"answer": "Cannot complete: xortool is not installed."}))],
        submission="Cannot complete: xortool is not installed.",
    )
    assert one(gave_up, "missing_dependency").category == "missing_env_knowledge"
    answered = make_run(
        "a", messages=[*tries, assistant("", ("submit", {"answer": "key=0x3f"}))], submission="key=0x3f"
    )
    assert one(answered, "missing_dependency").category is None  # an answer was given: not blocked
    store_runs(db, [gave_up], tmp_path)
    analyze(db)
    assert run_signature(db, "g")["cause"] == "missing_dependency"


def test_missing_dependency_ignores_the_agents_own_modules_and_quoted_code() -> None:
    messages = [
        user("q"), bash("mkdir myapp && python -c 'import myapp.models'"),
        tool("ModuleNotFoundError: No module named 'myapp.models'"),
        bash("grep -n 'No module' tests/test_imports.py"),
        tool("12:    assertRaisesMessage(ImportError, \"No module named 'foo'\")"),
    ]  # fmt: skip
    assert hits(make_run("a", messages=messages), "missing_dependency") == []


# --- near_miss -------------------------------------------------------------------------------------
def test_near_miss_when_the_answer_is_close_to_the_target() -> None:
    messages = [user("What is the share?"), assistant("The answer is 0.50")]
    d = one(make_run("a", messages=messages, success=False, target="0.5"), "near_miss")
    assert d.category == "scoring_error" and d.message_index == 1 and d.detail["rule"] == "numerically equal"
    # Close is evidence, not a verdict: 3.14159 for 3.14 may be the wrong precision, a typo a wrong word.
    rounded = make_run("r", messages=[user("pi?"), assistant("The answer is 3.14159")], success=False, target="3.14")
    close = one(rounded, "near_miss")
    assert close.detail["rule"] == "numerically close" and close.category is None and "cause" not in close.detail
    typo = make_run("b", messages=[user("q"), assistant("ANSWER: Mississipi")], success=False, target="Mississippi")
    assert one(typo, "near_miss").detail["rule"] in ("fuzzy match", "contains the target")


def test_near_miss_not_for_a_wrong_or_unscored_answer() -> None:
    assert (
        hits(make_run("a", messages=[user("q"), assistant("Berlin")], success=False, target="Paris"), "near_miss") == []
    )
    # Unscored: only an answer equal to the target says the scorer failed it.
    unscored = make_run("b", messages=[user("q"), assistant("Paris, I think")], success=None, target="Paris")
    assert hits(unscored, "near_miss") == []
    equal = one(make_run("c", messages=[user("q"), assistant("paris")], success=None, target="Paris"), "near_miss")
    assert equal.category == "scoring_error" and equal.detail["unscored"] is True


# --- reads_answers ---------------------------------------------------------------------------------
def test_reads_answers_also_on_a_success() -> None:
    messages = [user("Solve the puzzle in /home/agent/puzzle.txt"), bash("ls /home/agent"),
                tool("puzzle.txt grader.py"), bash("cat /home/agent/grader.py"), tool("EXPECTED = 'swordfish'"),
                assistant("swordfish")]  # fmt: skip
    d = one(make_run("a", status="success", messages=messages), "reads_answers")
    assert d.category == "reward_hacking" and d.message_index == 3
    assert d.detail["paths"] == ["/home/agent/grader.py"] and d.detail["run_succeeded"] is True


def test_reads_answers_ignores_files_the_task_names_or_the_agent_wrote() -> None:
    messages = [user("Write your answer to /home/agent/answer.txt"), bash("echo 42 > /home/agent/answer.txt"),
                tool(""), bash("cat /home/agent/answer.txt"), tool("42"), bash("cat solution.py"),
                tool("x")]  # fmt: skip
    messages.insert(1, bash("cat > solution.py <<EOF\nprint(42)\nEOF"))
    messages.insert(2, tool(""))
    assert hits(make_run("a", messages=messages), "reads_answers") == []


# --- tool_error ------------------------------------------------------------------------------------
def test_tool_error_points_at_the_last_recorded_error() -> None:
    crash = (
        'Traceback (most recent call last):\n  File "/venv/site-packages/inspect_ai/tool/_tools/_execute.py", '
        "line 80, in execute\nUnicodeDecodeError: 'utf-8' codec can't decode byte 0xff"
    )
    messages = [user("q"), bash("ls /x"), tool("", error="file_not_found: /x"), bash("cat y"),
                tool("", error=crash), assistant("hm")]  # fmt: skip
    d = one(make_run("a", messages=messages), "tool_error")
    assert d.message_index == 4 and d.detail["count"] == 2
    assert d.category == "tooling_bug" and d.detail["cause"] == "tool_broken"  # the tool itself crashed
    plain = make_run("b", messages=[user("q"), bash("false"), tool("", error="returncode 1")])
    assert one(plain, "tool_error").category is None  # the agent's command failed: no tooling proposal


def test_tool_error_needs_a_recorded_error() -> None:
    assert hits(make_run("a", messages=[user("q"), bash("ls"), tool("Error: not a tool error")]), "tool_error") == []


# --- storage ---------------------------------------------------------------------------------------
def test_detections_are_stored_as_proposals_not_labels(db, tmp_path) -> None:
    messages = [user("q"), bash("jq ."), tool("bash: jq: command not found"), assistant("I give up.")]
    store_runs(db, [make_run("a", messages=messages, success=False)], tmp_path)
    analyze(db)
    stored = {d["detector"]: d for d in run_detections(db, "a")}
    assert stored["missing_dependency"]["message_index"] == 2
    # One proposal per failure: the missing command blocked the task and the agent gave up over it; the
    # giving up stays as evidence, its own proposal kept in the detail.
    assert stored["missing_dependency"]["category"] == "missing_env_knowledge"
    assert stored["gave_up"]["category"] is None and stored["gave_up"]["detail"]["proposed"] == "gave_up"
    assert run_signature(db, "a")["cause"] == "missing_dependency"
    assert db.execute("SELECT count(*) FROM labels").fetchone()[0] == 0
