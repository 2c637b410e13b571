"""Error codes and the exceptions that carry them."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import pytest

from storconn.connection import ErrorCode, InvalidParameter, StorconnError

DOCS = Path(__file__).resolve().parents[3] / "docs" / "errors.md"


@pytest.mark.parametrize(
    ("code", "number"),
    [
        (ErrorCode.OK, 0),
        (ErrorCode.GENERAL, 100),
        (ErrorCode.STORAGE_SERVER_ACTION, 450),
        (ErrorCode.CONNECTION, 451),
        (ErrorCode.DISCONNECTION, 452),
        (ErrorCode.STORAGE_SERVER_VALIDATION, 453),
        (ErrorCode.ISCSI_LOGIN, 464),
        (ErrorCode.ISCSI_SETUP, 465),
        (ErrorCode.ACCESS_PERMISSION, 469),
        (ErrorCode.MOUNT_TYPE, 470),
        (ErrorCode.ISCSI_IFACE, 473),
        (ErrorCode.ISCSI_LOGOUT, 474),
        (ErrorCode.ISCSI_DISCOVERY, 475),
        (ErrorCode.ISCSI_LOGIN_AUTH, 476),
        (ErrorCode.MOUNT_ERROR, 477),
        (ErrorCode.REF_ID_IN_USE, 478),
        (ErrorCode.REF_ID_UNKNOWN, 479),
        (ErrorCode.INVALID_PARAMETER, 1000),
    ],
)
def test_codes_shared_with_vdsm_keep_vdsm_numbers(code: ErrorCode, number: int) -> None:
    assert code == number


def test_storconn_own_codes_are_490_and_up() -> None:
    own = [ErrorCode.CONFLICT, ErrorCode.TIMEOUT, ErrorCode.HUNG, ErrorCode.BUSY]
    own += [ErrorCode.UNSUPPORTED, ErrorCode.CONNECTION_LOST, ErrorCode.STALE]
    assert [int(code) for code in own] == list(range(490, 497))


def test_error_code_numbers_are_unique() -> None:
    assert len({int(code) for code in ErrorCode}) == len(ErrorCode)


def test_storconn_error_defaults_to_general() -> None:
    assert StorconnError("boom").code is ErrorCode.GENERAL


def test_str_of_an_error_is_its_message() -> None:
    assert str(StorconnError("mount failed", code=ErrorCode.MOUNT_ERROR)) == "mount failed"


def test_as_pair_is_the_wire_form() -> None:
    err = StorconnError("mount failed", code=ErrorCode.MOUNT_ERROR)
    assert err.as_pair() == [477, "mount failed"]
    assert type(err.as_pair()[0]) is int


def test_invalid_parameter_names_the_field_in_its_message() -> None:
    err = InvalidParameter("params.timeout", "must be between 1 and 6000")
    assert err.message == "params.timeout: must be between 1 and 6000"
    assert (err.field, err.reason) == ("params.timeout", "must be between 1 and 6000")


def test_invalid_parameter_has_code_1000() -> None:
    err = InvalidParameter("type", "field required")
    assert err.code is ErrorCode.INVALID_PARAMETER
    assert err.as_pair() == [1000, "type: field required"]


def test_invalid_parameter_is_a_storconn_error() -> None:
    assert issubclass(InvalidParameter, StorconnError)


def test_errors_keep_their_code_through_pickling() -> None:
    err = pickle.loads(pickle.dumps(StorconnError("gone", code=ErrorCode.STALE)))
    assert (type(err), err.code, str(err)) == (StorconnError, ErrorCode.STALE, "gone")


def test_invalid_parameter_survives_pickling() -> None:
    err = pickle.loads(pickle.dumps(InvalidParameter("uri", "unknown scheme")))
    assert isinstance(err, InvalidParameter)
    assert (err.field, err.reason, err.code) == ("uri", "unknown scheme", 1000)


def test_every_code_is_documented() -> None:
    text = DOCS.read_text()
    for code in ErrorCode:
        assert re.search(rf"\|\s*{int(code)}\s*\|\s*`{code.name}`", text), code.name
