"""Static tiles (docs/checkpoint-format.md §15), checked by a client written from the spec.

``tests/tlog_client.py`` shares no code with ``ledger/tiles.py``: the files
``govledger tiles write`` leaves are fetched as a static mirror would serve
them, roots are rebuilt from the tiles, and inclusion and consistency proofs
built from them verify against the signed checkpoints.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from ledger.checkpoints import generate_key_file, issue_checkpoint
from ledger.config import Settings
from ledger.errors import ConfigurationError, ProofError
from ledger.store.connect import open_reader
from ledger.tiles import (
    ENTRY_LEVEL,
    TileNotFoundError,
    TileReader,
    TileRef,
    encode_index,
    tiles_for,
    write_tiles,
)
from tests import tlog_client
from tests.conftest import Ledger


@pytest.fixture
def keyed(ledger: Ledger, tmp_path: Path) -> tuple[Settings, str]:
    key_file = str(tmp_path / "log.key")
    vkey = generate_key_file(key_file, "tiles.example/log")
    (tmp_path / "trusted.txt").write_text(vkey + "\n")
    settings = replace(
        ledger.settings,
        checkpoint_key_file=key_file,
        trusted_keys_file=str(tmp_path / "trusted.txt"),
        checkpoint_origin="tiles.example/log",
    )
    return settings, vkey


# ---------------------------------------------------------------- paths (tlog-tiles §Merkle Tree)


def test_paths_are_spelt_as_the_spec_spells_them() -> None:
    assert encode_index(1234067) == "x001/x234/067"
    assert encode_index(0) == "000" and encode_index(1000) == "x001/000"
    assert TileRef(0, 1234067).path() == "tile/0/x001/x234/067"
    assert TileRef(2, 5, 17).path() == "tile/2/005.p/17"
    assert TileRef(ENTRY_LEVEL, 1234067, 1).path() == "tile/entries/x001/x234/067.p/1"
    for ref in (TileRef(0, 1234067), TileRef(63, 7, 255), TileRef(ENTRY_LEVEL, 999_999_999, 3)):
        assert TileRef.parse(ref.path()) == ref
        assert (
            tlog_client.tile_path("entries" if ref.entries else ref.level, ref.index, ref.width)
            == ref.path()
        )


@pytest.mark.parametrize(
    "path",
    [
        "tile/01/000",  # leading zero in the level
        "tile/64/000",  # level beyond 63
        "tile/0/1",  # index element not three digits
        "tile/0/x000/001",  # a leading zero element
        "tile/0/001/002",  # upper element without x
        "tile/0/000.p/0",  # width 0
        "tile/0/000.p/256",  # a full tile is not partial
        "tile/0/000.p/07",  # leading zero in the width
        "tile/0/000.p",  # no width
        "tiles/0/000",
        "tile/entries",
        "tile/entry/000",
    ],
)
def test_paths_not_in_canonical_form_are_not_found(path: str) -> None:
    with pytest.raises(TileNotFoundError):
        TileRef.parse(path)


def test_the_spec_example_of_a_tree_of_70000() -> None:
    """tlog-tiles §Partial Tiles: 273 full level-0 tiles and one of width 112, one full
    level-1 tile and one of width 17, one level-2 tile of width 1; 256 leaves: a full level-0
    tile and a level-1 tile of width 1."""
    refs = list(tiles_for(70_000, entries=False))
    by_level = {level: [r for r in refs if r.level == level] for level in (0, 1, 2)}
    assert len(by_level[0]) == 274 and by_level[0][-1] == TileRef(0, 273, 112)
    assert by_level[1] == [TileRef(1, 0), TileRef(1, 1, 17)]
    assert by_level[2] == [TileRef(2, 0, 1)] and len(refs) == 277
    assert list(tiles_for(256, entries=False)) == [TileRef(0, 0), TileRef(1, 0, 1)]
    assert list(tiles_for(0)) == []


# ---------------------------------------------------------------- the ledger's tiles


def test_written_tiles_verify_with_the_spec_client(
    ledger: Ledger, keyed: tuple[Settings, str], tmp_path: Path
) -> None:
    settings, vkey = keyed
    ledger.append(300, per_transaction=50)
    issue_checkpoint(settings)
    mirror = tmp_path / "mirror"
    first = write_tiles(settings, str(mirror))
    assert first is not None
    fetch = tlog_client.directory_fetcher(mirror)
    earlier = tlog_client.audit(fetch, vkey)
    assert earlier.checkpoint.size == 300 and first.tree_size == 300
    reader = open_reader(settings)
    try:
        hashes = [bytes(row[6]) for batch in reader.iter_batches(0, 1000) for row in batch]
    finally:
        reader.close()
    assert earlier.entries == hashes  # an entry is the row's entry hash (§15)

    ledger.append(260, per_transaction=40)
    issue_checkpoint(settings)
    full_tile = mirror / "tile/0/000"
    stamp = full_tile.stat().st_mtime_ns, full_tile.stat().st_ino
    second = write_tiles(settings, str(mirror))
    assert second is not None
    assert (full_tile.stat().st_mtime_ns, full_tile.stat().st_ino) == stamp  # kept, not rewritten
    assert second.present == 2  # the full level-0 tile and entry bundle 0
    later = tlog_client.audit(fetch, vkey, previous=earlier.checkpoint)
    assert later.checkpoint.size == 560 and later.entries[:300] == earlier.entries
    # The older checkpoint's partial tiles stay: a client holding it can still fetch them.
    old = tlog_client.TiledLog(fetch, earlier.checkpoint)
    assert old.root() == earlier.checkpoint.root


def test_nothing_beyond_the_published_tree_is_served(
    ledger: Ledger, keyed: tuple[Settings, str]
) -> None:
    settings, _ = keyed
    ledger.append(20)
    issue_checkpoint(settings)
    ledger.append(300)  # rows and an integrated tree beyond the checkpoint
    with TileReader(settings) as tiles:
        published = tiles.published()
        assert published is not None and published.checkpoint.size == 20
        assert len(tiles.read(TileRef(0, 0, 20), 20)) == 20 * 32
        assert len(tiles.read(TileRef(ENTRY_LEVEL, 0, 7), 20)) == 7 * 34
        beyond = (TileRef(0, 0), TileRef(0, 0, 21), TileRef(ENTRY_LEVEL, 0, 21), TileRef(1, 0, 1))
        for ref in beyond:
            with pytest.raises(TileNotFoundError, match="beyond the published tree"):
                tiles.read(ref, 20)


def test_a_mirror_is_never_rolled_back_nor_mixed_with_another_log(
    ledger: Ledger, keyed: tuple[Settings, str], tmp_path: Path
) -> None:
    settings, _ = keyed
    ledger.append(10)
    issue_checkpoint(settings)
    mirror = tmp_path / "mirror"
    write_tiles(settings, str(mirror))
    ahead = (mirror / "checkpoint").read_text().replace("\n10\n", "\n11\n", 1)
    (mirror / "checkpoint").write_text(ahead)
    with pytest.raises(ProofError, match="roll the published log back"):
        write_tiles(settings, str(mirror))
    other = (mirror / "checkpoint").read_text().replace("tiles.example/log\n", "other/log\n", 1)
    (mirror / "checkpoint").write_text(other)
    with pytest.raises(ConfigurationError, match="checkpoint of 'other/log'"):
        write_tiles(settings, str(mirror))


def test_no_checkpoint_no_tiles(ledger: Ledger, keyed: tuple[Settings, str]) -> None:
    settings, _ = keyed
    ledger.append(3)
    with TileReader(settings) as tiles:
        assert tiles.published() is None


@pytest.mark.slow
def test_a_tree_with_three_tile_levels(sqlite_settings: Settings, tmp_path: Path) -> None:
    """66,000 leaves: full level-0 and level-1 tiles, a partial level-2 tile; the root rebuilt
    across all three levels, and consistency from a size inside a partial tile."""
    key_file = str(tmp_path / "log.key")
    vkey = generate_key_file(key_file, "tiles.example/big")
    settings = replace(sqlite_settings, checkpoint_key_file=key_file)
    ledger = Ledger(settings)
    try:
        ledger.append(1_000, per_transaction=1_000)
        issue_checkpoint(settings)
        mirror = tmp_path / "mirror"
        write_tiles(settings, str(mirror))
        fetch = tlog_client.directory_fetcher(mirror)
        earlier = tlog_client.audit(fetch, vkey, sample=8)
        ledger.append(65_000, per_transaction=5_000)
    finally:
        ledger.close()
    issue_checkpoint(settings)
    write_tiles(settings, str(mirror))
    assert os.path.getsize(mirror / "tile/2/000.p/1") == 32
    later = tlog_client.audit(fetch, vkey, previous=earlier.checkpoint, sample=16)
    assert later.checkpoint.size == 66_000


@pytest.mark.parametrize("damaged", ["tile/0/000", "tile/1/000.p/1", "tile/entries/001.p/44"])
def test_the_client_notices_a_damaged_mirror(
    ledger: Ledger, keyed: tuple[Settings, str], tmp_path: Path, damaged: str
) -> None:
    """The client is not vacuous: one flipped bit anywhere fails the audit."""
    settings, vkey = keyed
    ledger.append(300, per_transaction=100)
    issue_checkpoint(settings)
    mirror = tmp_path / "mirror"
    write_tiles(settings, str(mirror))
    data = bytearray((mirror / damaged).read_bytes())
    data[-1] ^= 1
    (mirror / damaged).write_bytes(bytes(data))
    with pytest.raises(tlog_client.InvalidError):
        tlog_client.audit(tlog_client.directory_fetcher(mirror), vkey)
