"""``production_tokens``: only a machine token whose sha256 the policy lists may deploy
(or run) ``--production``; ``grange config token`` mints one and prints its line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from grange.cli.argo_tokens import ProductionTokens, identity
from grange.cli.commands.config import config
from grange.config import (
    Policy,
    check_production_deploy,
    new_deploy_token,
    parse_config,
    token_hash,
)
from grange.exceptions import CommandError, ConfigError, PolicyError

TOKEN = "grange-deploy-" + "a" * 64
CONFIG = f"""\
[profiles.production.policy]
production_tokens = {{ ci = "{token_hash(TOKEN)}", release = "sha256:{"0" * 64}" }}
"""


def policy(text: str = CONFIG) -> Policy:
    return parse_config(text, "/repo/grange.toml").profiles["production"].policy


def test_the_machine_token_names_the_deployer() -> None:
    assert check_production_deploy(policy(), token=TOKEN) == "ci"
    assert check_production_deploy(policy(), token=TOKEN + "\n") == "ci"  # a secret's newline
    assert check_production_deploy(Policy(), token=None) is None  # no rule: anyone


@pytest.mark.parametrize(
    ("token", "what"),
    [
        (None, "without one of its machine tokens (GRANGE_DEPLOY_TOKEN is not set)"),
        ("", "without one of its machine tokens (GRANGE_DEPLOY_TOKEN is not set)"),
        ("grange-deploy-wrong", "with a GRANGE_DEPLOY_TOKEN that is none of its machine tokens"),
        (token_hash(TOKEN), "with a GRANGE_DEPLOY_TOKEN that is none of its machine tokens"),
    ],
)
def test_production_without_the_token_is_refused_quoting_the_rule(
    token: str | None, what: str
) -> None:
    for action in ("deploy", "run"):
        with pytest.raises(PolicyError) as info:
            check_production_deploy(policy(), action=action, token=token)
        err = info.value
        assert f"profile 'production' refuses a --production {action} {what}" in err.message
        assert "[profiles.production.policy] production_tokens = { ci = " in err.message
        assert err.file == "/repo/grange.toml" and err.line == 2
        assert err.fix is not None and "GRANGE_DEPLOY_TOKEN" in err.fix


def test_allow_production_deploy_false_still_wins() -> None:
    text = CONFIG + "allow_production_deploy = false\n"
    with pytest.raises(PolicyError, match="allow_production_deploy = false"):
        check_production_deploy(policy(text), token=TOKEN)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{ ci = "abc" }', "the hash of 'ci' must read sha256:<64 lowercase hex digits>"),
        ('{ ci = "sha256:' + "A" * 64 + '" }', "must read sha256:<64 lowercase hex digits>"),
        ('"sha256:x"', 'must be a table of name = "sha256:..." entries'),
        ("{}", 'must be a table of name = "sha256:..." entries'),
        ('{ "a b" = "sha256:' + "0" * 64 + '" }', "'a b' is not a token name"),
    ],
)
def test_a_malformed_rule_is_a_configuration_error(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        policy(f"[profiles.production.policy]\nproduction_tokens = {value}\n")
    assert message in info.value.message
    assert "[profiles.production.policy] production_tokens" in info.value.message


def test_config_token_prints_a_token_and_the_line_that_admits_it() -> None:
    result = CliRunner().invoke(config, ["token", "--name", "release"])
    assert result.exit_code == 0, result.output
    token, line = result.stdout.splitlines()
    assert token.startswith("grange-deploy-") and len(token) == len(new_deploy_token())
    assert line == f'production_tokens = {{ release = "{token_hash(token)}" }}'
    made = policy(f"[profiles.production.policy]\n{line}\n")
    assert check_production_deploy(made, token=token) == "release"
    assert "GRANGE_DEPLOY_TOKEN" in result.stderr
    assert new_deploy_token() != new_deploy_token()


def test_a_deployment_token_derived_from_the_machine_token() -> None:
    ci = ProductionTokens("ml", print, TOKEN)
    again = ProductionTokens("ml", print, TOKEN)  # the next job, on a fresh runner
    assert ci.derived("fraud.prod.trainflow") == again.derived("fraud.prod.trainflow")
    assert ci.derived("fraud.prod.trainflow") != ci.derived("fraud.prod.other")
    assert ProductionTokens("other", print, TOKEN).derived("fraud.prod.trainflow") != (
        ci.derived("fraud.prod.trainflow")
    )
    assert TOKEN not in str(ci.derived("fraud.prod.trainflow"))
    assert ProductionTokens("ml", print).derived("x") is None
    mine = identity("TrainFlow", None)
    first = ci.for_create(None, "trainflow", {}, mine)
    existing = {"metadata": {"annotations": {"grange.dev/production-token": first,
                                             "grange.dev/flow-name": "TrainFlow"}}}  # fmt: skip
    assert again.for_create(existing, "trainflow", {}, mine) == first
    with pytest.raises(CommandError, match="belongs to"):
        ProductionTokens("ml", print, "another").for_create(existing, "trainflow", {}, mine)
    with pytest.raises(CommandError, match="is the deployment of TrainFlow, not of Train_Flow"):
        again.for_create(existing, "trainflow", {}, identity("Train_Flow", None))


def test_config_show_shows_the_hashes_not_a_mask() -> None:
    from grange.config import mask

    hashes = {"ci": token_hash(TOKEN)}
    assert mask(hashes, "production_tokens") == hashes  # hashes only: nothing secret
    assert mask("s3cr3t", "deploy_token") == "***"


def _deployed_by(token: str, deployer: str | None) -> dict[str, dict[str, dict[str, str]]]:
    notes = {"grange.dev/production-token": token, "grange.dev/flow-name": "TrainFlow",
             "grange.dev/owner": "runner"}  # fmt: skip
    if deployer:
        notes["grange.dev/deployed-by"] = deployer
    return {"metadata": {"annotations": notes}}


def test_a_rotated_machine_token_takes_over_what_a_listed_one_deployed() -> None:
    """docs/profiles.md: list ci2 beside ci, deploy with ci2, then remove ci."""
    other = "grange-deploy-" + "b" * 64
    mine = identity("TrainFlow", None)
    made = ProductionTokens("ml", print, TOKEN).derived("trainflow")
    assert made is not None
    existing = _deployed_by(made, "ci")
    ci2 = ProductionTokens("ml", print, other, listed=["ci", "ci2"])
    with pytest.raises(CommandError, match="belongs to the machine token 'ci'"):
        ci2.for_create(existing, "trainflow", {}, mine)  # not admitted (no policy check)
    ci2.admitted = "ci2"
    token = ci2.for_create(existing, "trainflow", {}, mine)
    assert token == ci2.derived("trainflow") != made  # its own from now on
    ci2.check_owner(existing, "trainflow", None, mine, verb="delete")
    # a listed machine token may not take over a person's deployment, nor one made by a
    # machine token that the rule no longer lists
    person = _deployed_by("grange-0123", None)
    with pytest.raises(CommandError, match="belongs to runner"):
        ci2.for_create(person, "trainflow", {}, mine)
    gone = ProductionTokens("ml", print, other, listed=["ci2"])
    gone.admitted = "ci2"
    with pytest.raises(CommandError, match="belongs to the machine token 'ci'"):
        gone.for_create(existing, "trainflow", {}, mine)


def test_the_delete_refusal_names_the_deployer_and_no_option_delete_lacks() -> None:
    mine = identity("TrainFlow", None)
    someone = ProductionTokens("ml", print)
    with pytest.raises(CommandError) as info:
        someone.check_owner(_deployed_by("grange-x", "ci"), "trainflow", None, mine, verb="delete")
    assert "belongs to the machine token 'ci' (CI)" in str(info.value)
    assert "GRANGE_DEPLOY_TOKEN" in str(info.value.fix) and "--authorize" in str(info.value.fix)
    assert "--generate-new-token" not in str(info.value.fix)
    with pytest.raises(CommandError) as info:
        someone.check_owner(_deployed_by("grange-x", None), "trainflow", None, mine, verb="delete")
    assert "belongs to runner" in str(info.value) and "--generate-new-token" not in str(
        info.value.fix
    )
    with pytest.raises(CommandError) as info:
        someone.for_create(_deployed_by("grange-x", None), "trainflow", {}, mine)
    assert "--generate-new-token" in str(info.value.fix)
