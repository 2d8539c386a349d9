"""@secrets: how sources are written and checked when the flow is defined, and what is shown."""

from __future__ import annotations

import pytest

from grange import FlowSpec, secrets, step
from grange.decorators import decorators_of
from grange.decorators.registry import parse_decospec
from grange.decorators.secrets import SecretsDecorator
from grange.exceptions import DecoratorError, LintError, PolicyError, SecretError
from grange.graph import graph_of
from grange.graph.lint import check, lint
from grange.graph.render import render
from grange.secret_sources.policy import ResolvedSource, SecretsPolicy
from grange.secret_sources.spec import SecretSource, SourceSpecError, parse_source
from support import FLOWS, load_flow


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ("db", SecretSource(id="db")),
        ("aws-secrets-manager.prod/db", SecretSource(id="prod/db", type="aws-secrets-manager")),
        # Only the first dot splits: the rest belongs to the id.
        ("local-file.team.db", SecretSource(id="team.db", type="local-file")),
        ({"id": "prod/db.v2"}, SecretSource(id="prod/db.v2")),
        (
            {
                "type": "aws-secrets-manager",
                "id": "x",
                "options": {"region": "eu-west-1"},
                "role": "r",
            },
            SecretSource(
                id="x", type="aws-secrets-manager", options={"region": "eu-west-1"}, role="r"
            ),
        ),
    ],
)
def test_source_forms(item: object, expected: SecretSource) -> None:
    assert parse_source(item) == expected


@pytest.mark.parametrize(
    ("item", "message", "fix"),
    [
        ("aws-secret-manager.db", "'aws-secret-manager' in 'aws-secret-manager.db' is not a secrets provider", "did you mean 'aws-secrets-manager.db'?"),
        ("team.db", "'team' in 'team.db' is not a secrets provider", "{'id': 'team.db'}"),
        ("local-file.", "names no secret after the provider", "write the id after the dot"),
        ("", "a source is an empty string", 'sources=["db"]'),
        (3, "a source must be a string or a dict, not int", 'sources=["db"]'),
        ({"name": "db"}, "unknown key(s) name", "id, options, role, type"),
        ({"id": 3}, "needs 'id', a non-empty string", '{"id": "prod/db"}'),
        ({"id": "db", "type": "vault"}, "'vault' in 'db' is not a secrets provider", ""),
        ({"id": "db", "options": ["x"]}, "'options' of source 'db' must be a dict", ""),
        ({"id": "db", "role": 5}, "'role' of source 'db' must be a string", ""),
    ],
)  # fmt: skip
def test_bad_sources_say_what_and_how_to_fix(item: object, message: str, fix: str) -> None:
    with pytest.raises(SourceSpecError) as info:
        parse_source(item)
    assert message in info.value.message
    assert fix in info.value.fix


def test_decorator_arguments_are_checked() -> None:
    assert SecretsDecorator({"sources": "db"}).sources == (SecretSource(id="db"),)
    with pytest.raises(DecoratorError, match=r"@secrets\(sources=...\): sources must be a list"):
        SecretsDecorator({"sources": 3})
    with pytest.raises(DecoratorError, match="role must be a string"):
        SecretsDecorator({"sources": ["db"], "role": 3})
    with pytest.raises(DecoratorError, match="allow_override must be True or False"):
        SecretsDecorator({"sources": ["db"], "allow_override": "yes"})
    with pytest.raises(DecoratorError, match="unknown argument"):
        SecretsDecorator({"source": ["db"]})


def test_a_bad_source_is_a_lint_error_naming_file_line_and_step() -> None:
    flow = load_flow(FLOWS / "secrets" / "invalid.py")
    with pytest.raises(LintError) as info:
        check(graph_of(flow))
    text = info.value.render()
    assert "invalid.py:11, step 'train'" in text
    assert "'aws-secret-manager' in 'aws-secret-manager.prod/db' is not a secrets provider" in text
    assert "did you mean 'aws-secrets-manager.prod/db'?" in text


class InlineFlow(FlowSpec):
    @secrets(
        sources=[
            "local-file.db",
            {"type": "inline", "id": "t", "options": {"env_vars": {"TOKEN": "inline-value-123"}}},
        ]
    )
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_values_written_inline_are_never_shown_or_recorded() -> None:
    deco = decorators_of(InlineFlow.start)[0]
    assert isinstance(deco, SecretsDecorator)
    # The task still gets the real value...
    assert deco.sources[1].options == {"env_vars": {"TOKEN": "inline-value-123"}}
    # ...but what is shown and recorded holds ids only.
    graph = graph_of(InlineFlow)
    for text in (repr(deco), str(graph.to_dict()), render(graph)):
        assert "inline-value-123" not in text
        assert "local-file.db" in text or "'db'" in text
    assert deco.attributes["sources"][1]["options"] == {"env_vars": {"TOKEN": "****"}}
    assert lint(graph) == []  # the masked form is still a valid decorator


def test_with_secrets_from_the_command_line() -> None:
    deco = parse_decospec('secrets:sources=["local-file.db","aws-secrets-manager.prod/x"]')
    assert isinstance(deco, SecretsDecorator)
    assert [s.label() for s in deco.sources] == ["local-file.db", "aws-secrets-manager.prod/x"]
    assert parse_decospec("secrets:sources=local-file.db").sources == (  # type: ignore[attr-defined]
        SecretSource(id="db", type="local-file"),
    )
    with pytest.raises(DecoratorError, match=r"--with secrets:sources=nope\.db: @secrets"):
        parse_decospec("secrets:sources=nope.db")


# -- policy ------------------------------------------------------------------------------------


def test_policy_from_the_environment() -> None:
    policy = SecretsPolicy.from_env(
        {
            "GRANGE_SECRETS_PROVIDER": "aws-secrets-manager",
            "GRANGE_SECRETS_ALLOWED": "prod/*, local-file.dev",
            "GRANGE_SECRETS_ROLE": "arn:role/default",
        }
    )
    assert policy.default_provider == "aws-secrets-manager"
    assert policy.allowed_sources == ("prod/*", "local-file.dev")
    resolved = policy.resolve(SecretSource(id="prod/db"))
    assert resolved == ResolvedSource("aws-secrets-manager", "prod/db", {}, "arn:role/default")
    # Role: the source's, else the decorator's, else the default.
    assert policy.resolve(SecretSource(id="a", role="src"), role="deco").role == "src"
    assert policy.resolve(SecretSource(id="a"), role="deco").role == "deco"
    assert SecretsPolicy.from_env({}) == SecretsPolicy(origin="$GRANGE_SECRETS_ALLOWED")
    # A runtime hands its policy on to its tasks through the same variables.
    assert SecretsPolicy.from_env(policy.as_env()) == policy
    profile = SecretsPolicy.from_profile("prod", {"allowed_sources": [], "default_role": "r"})
    assert SecretsPolicy.from_env(profile.as_env()) == profile  # refusals name the profile


def test_allowed_patterns_match_the_id_or_provider_and_id() -> None:
    policy = SecretsPolicy(allowed_sources=("prod/*", "local-file.dev"))
    allowed = [
        policy.allows(ResolvedSource(t, i, {}, None))
        for t, i in [
            ("aws-secrets-manager", "prod/db"),
            ("local-file", "prod/a/b"),
            ("local-file", "dev"),
            ("aws-secrets-manager", "dev"),
            ("aws-secrets-manager", "staging/db"),
        ]
    ]
    assert allowed == [True, True, True, False, False]
    assert SecretsPolicy().allows(ResolvedSource("env", "X", {}, None))  # no patterns: all
    assert not SecretsPolicy(allowed_sources=()).allows(ResolvedSource("env", "X", {}, None))


def test_a_refused_source_names_the_rule() -> None:
    policy = SecretsPolicy.from_profile("prod", {"allowed_sources": ["prod/*"]})
    with pytest.raises(PolicyError) as info:
        policy.check([ResolvedSource("local-file", "staging/db", {}, None)], step="train")
    text = info.value.render()
    assert "step 'train'" in text and "Refused by policy" in text
    assert "'local-file.staging/db' is not allowed by profile 'prod'" in text
    assert "allowed sources: prod/*" in text


def test_without_a_default_provider_a_bare_id_says_how_to_name_one() -> None:
    with pytest.raises(SecretError) as info:
        SecretsPolicy().resolve(SecretSource(id="db"), step="start")
    assert "names no provider, and no default provider is set" in info.value.message
    assert "'local-file.db'" in str(info.value.fix) and "$GRANGE_SECRETS_PROVIDER" in str(
        info.value.fix
    )
    with pytest.raises(SecretError, match="is not a provider"):
        SecretsPolicy(default_provider="vault").resolve(SecretSource(id="db"))


def test_profile_tables_are_checked() -> None:
    with pytest.raises(SecretError, match="allowed_sources must be a list"):
        SecretsPolicy.from_profile("p", {"allowed_sources": "prod/*"})
    with pytest.raises(SecretError, match="default_provider must be a provider name"):
        SecretsPolicy.from_profile("p", {"default_provider": 3})


def test_sources_can_be_checked_before_a_run_starts() -> None:
    from grange.task.secrets import check_sources

    decorators = decorators_of(InlineFlow.start)
    check_sources(decorators, step="start", policy=SecretsPolicy())
    with pytest.raises(PolicyError) as info:
        check_sources(
            decorators,
            step="start",
            policy=SecretsPolicy(allowed_sources=("local-file.*",), origin="profile 'prod'"),
            file="flow.py",
            line=7,
        )
    assert "flow.py:7, step 'start'" in info.value.render()
    assert "'inline.t' is not allowed by profile 'prod'" in info.value.message
    check_sources(
        decorators_of(InlineFlow.end), step="end", policy=SecretsPolicy(allowed_sources=())
    )
