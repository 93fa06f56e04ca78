"""`gongji user add|list`: the token is printed once and kept only as a hash; bad input exits 2 with one line."""

from typer.testing import CliRunner

from gongji.cli import app
from gongji.services.users import user_for_token

runner = CliRunner()


def run(db_url: str, *args: str):
    return runner.invoke(app, ["user", *args, "--db", db_url])


def test_add_prints_the_token_once_and_list_never_shows_it(db_url, engine):
    added = run(db_url, "add", "李明", "--role", "operator")
    assert added.exit_code == 0, added.output
    token, note = added.stdout.strip().splitlines()
    assert "not shown again" in note
    found = user_for_token(engine, token)
    assert (found["name"], found["role"]) == ("李明", "operator")
    listed = run(db_url, "list")
    assert listed.exit_code == 0 and "李明" in listed.stdout and "operator" in listed.stdout
    assert token not in listed.stdout


def test_bad_input_exits_2_with_one_line(db_url):
    assert run(db_url, "add", "李明", "--role", "admin").exit_code == 0
    for args, words in ((("add", "李明", "--role", "auditor"), ("name", "李明", "already")),
                        (("add", "王芳", "--role", "boss"), ("role", "boss"))):
        result = run(db_url, *args)
        assert result.exit_code == 2, result.output
        (line,) = result.stderr.strip().splitlines()
        assert all(word in line for word in words), line
