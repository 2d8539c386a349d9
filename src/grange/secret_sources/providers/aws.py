"""``aws-secrets-manager``: secrets from AWS Secrets Manager, through boto3.

The id is a secret's name or ARN. A string secret is a JSON object by default,
each entry a variable; with ``options={"json": False}`` it is one value named
``env_var_name`` or the secret's name. A binary secret is one value, base64.

Region: the ARN's, else ``options["region"]``, else ``$GRANGE_SECRETS_MANAGER_REGION``,
else the AWS chain (``AWS_REGION``, ``AWS_DEFAULT_REGION``, ``~/.aws/config``).
Endpoint (an emulator, a VPC endpoint): ``options["endpoint_url"]``, else
``$GRANGE_SECRETS_MANAGER_ENDPOINT_URL``, else what boto3 reads itself
(``AWS_ENDPOINT_URL_SECRETS_MANAGER``, ``AWS_ENDPOINT_URL``). Credentials: the
standard AWS chain. A ``role`` (an IAM role ARN) is assumed through STS first.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from typing import Any

from grange.secret_sources.providers.base import Provider, ProviderError, pairs_from_text

ENDPOINT_ENV = "GRANGE_SECRETS_MANAGER_ENDPOINT_URL"
REGION_ENV = "GRANGE_SECRETS_MANAGER_REGION"
INSTALL_FIX = "install boto3: pip install 'grange[s3]'"
_ARN_REGION = re.compile(r"arn:aws[a-z-]*:secretsmanager:([^:]+):")

_NOT_FOUND = {"ResourceNotFoundException"}
_DENIED = {"AccessDeniedException", "AccessDenied", "UnauthorizedOperation"}
_CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
}


class AwsSecretsManagerProvider(Provider):
    type = "aws-secrets-manager"
    options = ("endpoint_url", "env_var_name", "json", "region")

    def fetch(
        self, secret_id: str, *, options: Mapping[str, Any], role: str | None
    ) -> Mapping[str, object]:
        self.check_options(options)
        try:
            import boto3  # type: ignore[import-untyped]
            import botocore.exceptions as bex  # type: ignore[import-untyped]
            from botocore.config import Config  # type: ignore[import-untyped]
        except ImportError:
            raise ProviderError("boto3 is not installed", INSTALL_FIX) from None
        match = _ARN_REGION.match(secret_id)
        region = (
            (match.group(1) if match else None)
            or options.get("region")
            or os.environ.get(REGION_ENV)
            or None
        )
        endpoint = options.get("endpoint_url") or os.environ.get(ENDPOINT_ENV) or None
        config = Config(
            retries={"mode": "standard", "max_attempts": 3}, connect_timeout=10, read_timeout=30
        )
        try:
            session = _session(boto3, role, region)
            client = session.client(
                "secretsmanager", region_name=region, endpoint_url=endpoint, config=config
            )
            region = region or client.meta.region_name
            response = client.get_secret_value(SecretId=secret_id)
        except ProviderError:
            raise
        except bex.NoRegionError:
            raise ProviderError(
                "no AWS region is set for AWS Secrets Manager",
                f"set ${REGION_ENV} or AWS_REGION, give the source "
                'options={"region": "..."}, or use the secret\'s ARN',
            ) from None
        except (bex.NoCredentialsError, bex.PartialCredentialsError):
            raise ProviderError(
                "no AWS credentials were found",
                "log in (aws sso login, or set AWS_PROFILE / AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY), or run where a role gives them",
            ) from None
        except (bex.EndpointConnectionError, bex.ConnectTimeoutError, bex.ReadTimeoutError):
            where = endpoint or f"region {region or 'from the AWS configuration'}"
            raise ProviderError(
                f"AWS Secrets Manager cannot be reached ({where})",
                f"check the network, the region, or ${ENDPOINT_ENV}",
            ) from None
        except bex.ClientError as err:
            raise _client_error(err, secret_id, region, role) from None
        except bex.BotoCoreError as err:
            raise ProviderError(f"AWS Secrets Manager failed: {type(err).__name__}") from None
        name = str(response.get("Name") or secret_id)
        if "SecretString" in response:
            return pairs_from_text(
                response["SecretString"], what=f"secret '{name}'", name=name, options=options
            )
        if "SecretBinary" in response:
            encoded = base64.b64encode(response["SecretBinary"]).decode("ascii")
            return {str(options.get("env_var_name") or name): encoded}
        raise ProviderError(f"secret '{name}' has no value (neither string nor binary)")


def _session(boto3: Any, role: str | None, region: str | None) -> Any:
    """A boto3 session: the default chain's, or the role's assumed through STS."""
    if not role:
        return boto3.session.Session()
    import botocore.exceptions as bex

    try:
        sts = boto3.session.Session().client("sts", region_name=region)
        creds = sts.assume_role(RoleArn=role, RoleSessionName="grange-secrets")["Credentials"]
    except bex.ClientError as err:
        code = err.response.get("Error", {}).get("Code", "")
        raise ProviderError(
            f"the role {role} could not be assumed ({code})",
            "check the role ARN and that your credentials may assume it (its trust policy)",
        ) from None
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def _client_error(err: Any, secret_id: str, region: str | None, role: str | None) -> ProviderError:
    code = str(err.response.get("Error", {}).get("Code", ""))
    where = f" in region {region}" if region else ""
    who = f" with role {role}" if role else ""
    if code in _NOT_FOUND:
        return ProviderError(
            f"no secret '{secret_id}' in AWS Secrets Manager{where}",
            "create it (aws secretsmanager create-secret --name ...), or correct the id "
            "or the region",
        )
    if code in _DENIED:
        return ProviderError(
            f"access to secret '{secret_id}' is denied{who}",
            "grant secretsmanager:GetSecretValue on it (and kms:Decrypt on its key) to "
            "the credentials or role the task uses",
        )
    if code in _CREDENTIALS:
        return ProviderError(
            f"AWS refused the credentials ({code})",
            "log in again (aws sso login) or check AWS_PROFILE / AWS_ACCESS_KEY_ID",
        )
    if code == "DecryptionFailure":
        return ProviderError(
            f"secret '{secret_id}' cannot be decrypted with its KMS key{who}",
            "grant kms:Decrypt on the secret's key",
        )
    if code == "InvalidRequestException":
        return ProviderError(
            f"secret '{secret_id}' cannot be read now (deleted, or scheduled for deletion?)",
            "restore it (aws secretsmanager restore-secret) or use another",
        )
    return ProviderError(f"AWS Secrets Manager refused to read secret '{secret_id}' ({code})")
