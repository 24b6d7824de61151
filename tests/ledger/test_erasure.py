"""What every sealed field shares (ledger/erasure.py, docs/ledger-format.md §9): the
associated data binds a ciphertext to its event topic and field. The subjects of an
access, the ledger's sealed field, are tested end to end in test_subjects.py."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.erasure import associated_data, is_sealed
from ledger.subjects import open_sealed, sealed_json

KEY, NONCE = bytes(range(32, 64)), bytes(range(12))
ACCESS_TOPIC = "ledger.domain.access:DataAccess.Recorded"


def test_the_associated_data_is_the_documented_text() -> None:
    expected = b"govledger-seal-v1\nledger.domain.access:DataAccess.Recorded\nsubjects"
    assert associated_data(ACCESS_TOPIC, "subjects") == expected


@pytest.mark.parametrize(
    ("topic", "field"), [(ACCESS_TOPIC, "accessor_id"), ("other:Event.Recorded", "subjects")]
)
def test_a_sealed_subject_does_not_open_in_another_place(topic: str, field: str) -> None:
    sealed = json.loads(sealed_json("k" * 32, KEY, "320102198001010011", NONCE))
    assert is_sealed(sealed) and open_sealed(sealed, KEY) == "320102198001010011"
    ct = base64.b64decode(sealed["ct"])
    with pytest.raises(InvalidTag):
        AESGCM(KEY).decrypt(NONCE, ct, associated_data(topic, field))
