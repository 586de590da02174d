import pytest

from core.errors import Problem
from core.http.tenant_key_check import bearer_key, require_tenant_key


class Keyring:
    """Each tenant's one key."""

    def __init__(self, keys: dict[str, str]) -> None:
        self.keys = keys

    def allows(self, tenant_id: str, key: str) -> bool:
        return self.keys.get(tenant_id) == key


KEYRING = Keyring({"civil-registry": "k-civil", "transport-agency": "k-transport"})
REFUSAL = "an operator key of this agency is required"


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Bearer k-1", "k-1"),
        ("bearer k-1", "k-1"),
        ("BEARER  k-1 ", "k-1"),
        ("Basic k-1", None),
        ("Bearer", None),
        ("Bearer   ", None),
        ("", None),
        ("k-1", None),
    ],
)
def test_the_bearer_key_of_an_authorization_header(header: str, key: str | None) -> None:
    assert bearer_key(header) == key


def test_a_key_of_the_tenant_in_the_path_passes() -> None:
    require_tenant_key("Bearer k-civil", KEYRING, "civil-registry", refusal=REFUSAL)


@pytest.mark.parametrize(
    "header",
    ["Bearer k-transport", "Bearer k-unknown", "Basic k-civil", "", "Bearer "],
)
def test_anything_else_is_a_401_problem_with_the_given_detail(header: str) -> None:
    with pytest.raises(Problem) as refused:
        require_tenant_key(header, KEYRING, "civil-registry", refusal=REFUSAL)
    assert refused.value.to_body() == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": REFUSAL,
    }
