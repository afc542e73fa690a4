"""data/system_classes.csv: each actor's stock split by system class (scale-up domain) by year, 2024-2030.

The shares are those of the stock installed at each year's end in dense-BF16 H100e (docs/system-classes.md);
source ids refer to src/computerace/data/sources.csv, representative systems to data/systems.csv.
"""

import csv
from importlib import resources

import pytest

from computerace.analysis import reasoning

COLUMNS = ["actor", "class", "year", "share_low", "share_central", "share_high", "representative_system", "source",
           "status", "note"]
ACTORS = ("US", "China", "RoW")
CLASSES = ("hgx8", "nvl72", "supernode", "npu_server", "pod", "pcie_other")
YEARS = tuple(range(2024, 2031))
STATUSES = ("primary", "secondary", "estimate", "derived", "assumption")
#: Ascend server ids the serving work adds to systems.csv (8x 910B, 8x 910C); reconciled at integration.
PENDING_SYSTEMS = ("atlas-800t-a2", "atlas-800-a3")


def _csv(name: str) -> list[dict[str, str]]:
    with resources.files("computerace.data").joinpath(name).open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return _csv("system_classes.csv")


def _shares(r: dict[str, str]) -> tuple[float, float, float]:
    return float(r["share_low"]), float(r["share_central"]), float(r["share_high"])


def test_schema(rows):
    with resources.files("computerace.data").joinpath("system_classes.csv").open(newline="") as f:
        assert next(csv.reader(f)) == COLUMNS
    for i, r in enumerate(rows, start=2):
        assert r["actor"] in ACTORS, f"line {i}: actor {r['actor']!r}"
        assert r["class"] in CLASSES, f"line {i}: class {r['class']!r}"
        assert r["status"] in STATUSES, f"line {i}: status {r['status']!r}"
        assert int(r["year"]) in YEARS, f"line {i}: year {r['year']!r}"
        assert r["source"].strip(), f"line {i}: no source"
        assert r["note"].strip(), f"line {i}: no note (say how the share was found)"


def test_one_row_per_actor_class_year_and_years_continuous(rows):
    keys = [(r["actor"], r["class"], int(r["year"])) for r in rows]
    assert len(keys) == len(set(keys)), "duplicate (actor, class, year) rows"
    for actor in ACTORS:
        years = sorted({y for a, _, y in keys if a == actor})
        assert years == list(YEARS), f"{actor}: years {years} are not 2024..2030 without gaps"
        for y in YEARS:
            assert {c for a, c, yy in keys if a == actor and yy == y} == set(CLASSES), f"{actor} {y}: a class is missing"


def test_shares_are_ordered_fractions(rows):
    for r in rows:
        lo, mid, hi = _shares(r)
        assert 0.0 <= lo <= mid <= hi <= 1.0, (r["actor"], r["class"], r["year"], lo, mid, hi)


def test_central_shares_sum_to_one_per_actor_and_year(rows):
    for actor in ACTORS:
        for y in YEARS:
            total = sum(_shares(r)[1] for r in rows if r["actor"] == actor and int(r["year"]) == y)
            assert total == pytest.approx(1.0, abs=1e-9), f"{actor} {y}: central shares sum to {total}"


def test_ranges_can_reach_one(rows):
    """The low-high ranges bracket a split that sums to 1 (sum of lows <= 1 <= sum of highs)."""
    for actor in ACTORS:
        for y in YEARS:
            sel = [_shares(r) for r in rows if r["actor"] == actor and int(r["year"]) == y]
            assert sum(s[0] for s in sel) <= 1.0 <= sum(s[2] for s in sel), (actor, y)


def test_every_source_id_is_in_sources_csv(rows):
    known = {s["id"] for s in _csv("sources.csv")}
    for r in rows:
        for sid in (s.strip() for s in r["source"].split(";") if s.strip()):
            assert sid in known, f"{r['actor']} {r['class']} {r['year']}: source {sid!r} is not in sources.csv"


def test_representative_systems_exist(rows):
    """Every class with a share has a representative system in systems.csv (or one of the pending Ascend server
    ids); only PCIe/small domains, which serve zero at the reference speed, and empty classes may have none."""
    systems = {s["id"] for s in _csv("systems.csv")}
    missing = []
    for r in rows:
        sid = r["representative_system"].strip()
        where = f"{r['actor']} {r['class']} {r['year']}"
        if not sid:
            assert r["class"] == "pcie_other" or _shares(r)[2] == 0.0, f"{where}: a share but no representative system"
            continue
        assert r["class"] != "pcie_other", f"{where}: pcie_other serves zero at the reference speed; leave it empty"
        for one, _ in reasoning.mix(sid):  # one id, or a mix "id:weight;id:weight"
            if one not in systems:
                missing.append(f"{where}: {one!r}")
    not_pending = [m for m in missing if not m.endswith(tuple(f"{p!r}" for p in PENDING_SYSTEMS))]
    assert not not_pending, "representative systems not in systems.csv: " + "; ".join(not_pending)
    pending = sorted({m.rsplit(": ", 1)[1] for m in missing})
    assert not pending, ("representative systems still pending in systems.csv (add them, or rename the ids in "
                         "system_classes.csv at integration): " + ", ".join(pending))


def test_classes_belong_to_their_actors(rows):
    """Closed-form facts of the data: no Chinese TPU pods or NVL72 racks, no US/RoW Ascend supernodes or servers,
    and CloudMatrix 384 only from 2025 (first supernodes went live in April 2025)."""
    def central(actor, cls, year):
        return next(_shares(r)[1] for r in rows if (r["actor"], r["class"], int(r["year"])) == (actor, cls, year))

    for y in YEARS:
        assert central("China", "pod", y) == 0.0 and central("China", "nvl72", y) == 0.0
        for actor in ("US", "RoW"):
            assert central(actor, "supernode", y) == 0.0 and central(actor, "npu_server", y) == 0.0
    assert central("China", "supernode", 2024) == 0.0
    assert central("China", "supernode", 2025) > 0.0


def test_2025_shares_match_the_sourced_counts(rows):
    """Validation against the figures the 2025 shares rest on, with tolerances for the conversion:
    - China: 300+ Atlas 900 A3 SuperPoDs by Sep 2025 (cloudnews-superpod-2025) x 384 x 0.79 H100e = 91k H100e,
      against a China stock of ~1.8-2.1M H100e (model baseline) -> >= 4% in supernodes, <= 12% (600 supernodes).
    - US: 28k NVL72 racks in 2025 (ms-gb-racks-2025-10) x 72 = 2.0M GPUs x 2.53 H100e = 5.1M H100e; at most
      all of it US-owned in a ~16M H100e US stock (<= 32%), at least 20k racks at 60% US (>= 15%).
    - US pods: Epoch TPU 3.8M + Trainium2 0.9M H100e of ~15.7M (30%; Epoch's 90% ranges ~ +-20%)."""
    def share(actor, cls):
        return next(_shares(r)[1] for r in rows if (r["actor"], r["class"], int(r["year"])) == (actor, cls, 2025))

    assert 0.04 <= share("China", "supernode") <= 0.12
    assert 0.15 <= share("US", "nvl72") <= 0.32
    assert 0.30 * 0.8 <= share("US", "pod") <= 0.30 * 1.2


def test_scale_up_shares_grow_after_2025(rows):
    """The assumption past the sourced years is a shift to large domains: US NVL72 and China's supernode shares do
    not fall from 2025 to 2030, and the 2030 ranges are wider than the 2025 ones."""
    def get(actor, cls, year):
        return next(_shares(r) for r in rows if (r["actor"], r["class"], int(r["year"])) == (actor, cls, year))

    for actor, cls in (("US", "nvl72"), ("China", "supernode"), ("RoW", "nvl72")):
        a, b = get(actor, cls, 2025), get(actor, cls, 2030)
        assert b[1] >= a[1], (actor, cls)
        assert b[2] - b[0] > a[2] - a[0], (actor, cls)
