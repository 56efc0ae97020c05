"""Validation: nothing malformed, truncated, foreign or hostile gets into the model."""

from __future__ import annotations

import json

import pytest
from conftest import SAMPLE_NEW, public, shared_file

from tagsync.errors import DataError, UnknownTagError
from tagsync.model import parse_service_tags
from tagsync.tagnames import regional_variants, resolve_tags


def doc(values: object, *, cloud: object = "Public", change: object = 5) -> bytes:
    return json.dumps({"changeNumber": change, "cloud": cloud, "values": values}).encode()


def tag(name: str, prefixes: list[object], **extra: object) -> dict[str, object]:
    props: dict[str, object] = {"changeNumber": 1, "region": "", "addressPrefixes": prefixes}
    props.update(extra)
    return {"name": name, "id": name, "properties": props}


def test_parses_real_crlf_file_and_keeps_ipv4_and_ipv6() -> None:
    path = public("20250804")
    raw = path.read_bytes()
    assert b"\r\n" in raw  # CRLF era
    st = parse_service_tags(raw, source=str(path), expected_cloud="Public")
    expected = json.loads(raw)
    assert st.change_number == expected["changeNumber"]
    assert len(st.tags) == len(expected["values"])
    aatp = st.tags["AzureAdvancedThreatProtection"]
    original = next(v for v in expected["values"] if v["name"] == "AzureAdvancedThreatProtection")
    assert list(aatp.prefixes) == original["properties"]["addressPrefixes"]
    assert aatp.ipv4 and aatp.ipv6


def test_parses_real_lf_file() -> None:
    raw = public("20251006").read_bytes()
    assert b"\r\n" not in raw  # LF era since Oct 2025
    assert parse_service_tags(raw, expected_cloud="Public").change_number == 372


@pytest.mark.parametrize(
    ("relative", "cloud"),
    [
        ("servicetags/usgov/ServiceTags_AzureGovernment_20251020.json", "AzureGovernment"),
        ("servicetags/china/ServiceTags_China_20251020.json", "China"),
    ],
)
def test_other_clouds(relative: str, cloud: str) -> None:
    st = parse_service_tags(shared_file(relative).read_bytes(), expected_cloud=cloud)
    assert "AzureAdvancedThreatProtection" in st


def test_wrong_cloud_is_refused() -> None:
    raw = shared_file("servicetags/usgov/ServiceTags_AzureGovernment_20251020.json").read_bytes()
    with pytest.raises(DataError, match="cloud 'AzureGovernment', expected 'Public'"):
        parse_service_tags(raw, source="gov.json", expected_cloud="Public")


def test_change_number_as_numeric_string() -> None:
    st = parse_service_tags(doc([tag("A", ["1.0.0.0/8"], changeNumber="7")], change="42"))
    assert st.change_number == 42
    assert st.tags["A"].change_number == 7


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty body"),
        (b"<!DOCTYPE html><html><body>Sign in</body></html>", "HTML page"),
        (b"\xef\xbb\xbf  <html>", "HTML page"),
        (b"hello", "not valid JSON"),
        (b"[1, 2]", "not a service tags file"),
        (b'{"changeNumber": 1, "cloud": "Public"}', "not a service tags file"),
        (json.dumps({"cloud": "Public", "values": []}).encode(), "no top-level changeNumber"),
        (doc([]), "lists no tags"),
        (doc([tag("A", ["1.0.0.0/8"])], change=-1), "changeNumber must be a number"),
        (doc([tag("A", ["1.0.0.0/8"])], change="12a"), "changeNumber must be a number"),
        (doc([tag("A", ["1.0.0.0/8"])], change=True), "changeNumber must be a number"),
        (doc([tag("A", ["1.0.0.0/8"])], cloud=None), "no top-level cloud"),
        (doc([{"id": "x", "properties": {"addressPrefixes": []}}]), "has no name"),
        (doc([{"name": "A"}]), "no properties object"),
        (doc([{"name": "A", "properties": {}}]), "no properties.addressPrefixes"),
        (doc([tag("A", ["1.0.0.0/33"])]), "invalid CIDR"),
        (doc([tag("A", ["10.0.0.1/8"])]), "host bits set"),
        (doc([tag("A", [17])]), "invalid CIDR"),
        (doc([tag("A", ["1.0.0.0/8"]), tag("A", ["2.0.0.0/8"])]), "duplicate tag name A"),
        (doc([tag("A; rm -rf /", ["1.0.0.0/8"])]), "outside"),
        (doc([tag("A\nB", ["1.0.0.0/8"])]), "outside"),
        (doc([tag("$(reboot)", ["1.0.0.0/8"])]), "outside"),
        (doc([tag('A"B', ["1.0.0.0/8"])]), "outside"),
        (doc([tag("A" * 201, ["1.0.0.0/8"])]), "outside"),
    ],
)
def test_rejects_bad_documents(data: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message) as info:
        parse_service_tags(data, source="feed.json")
    assert str(info.value).startswith("feed.json: ")
    assert "\n" not in str(info.value)


def test_truncated_real_file_is_reported_as_truncated() -> None:
    raw = SAMPLE_NEW.read_bytes()
    for cut in (len(raw) // 2, len(raw) - 1, 100):
        with pytest.raises(DataError, match="truncated JSON"):
            parse_service_tags(raw[:cut], source="cut.json")


def test_many_invalid_prefixes_are_summarised_on_one_line() -> None:
    bad: list[object] = [f"10.0.0.{i}/8" for i in range(1, 10)]
    with pytest.raises(DataError, match=r"and 6 more") as info:
        parse_service_tags(doc([tag("A", bad)]))
    assert "\n" not in str(info.value)


def test_resolve_tags_is_case_insensitive_and_adds_regions() -> None:
    st = parse_service_tags(public("20251006").read_bytes())
    [west] = resolve_tags(st, ["AzureCloud.WestEurope"])
    assert west.name == "AzureCloud.westeurope"
    storage = resolve_tags(st, ["Storage"], regions=True)
    names = [t.name for t in storage]
    assert names[0] == "Storage"
    expected = sorted(n for n in st.tags if n.startswith("Storage."))
    assert names[1:] == expected and len(expected) > 20
    # AzureAdvancedThreatProtection has no regional variants: --regions adds nothing.
    assert regional_variants(st, "AzureAdvancedThreatProtection") == []
    assert [t.name for t in resolve_tags(st, ["AzureAdvancedThreatProtection"], regions=True)] == [
        "AzureAdvancedThreatProtection"
    ]


def test_unknown_tag_suggests_close_matches() -> None:
    st = parse_service_tags(SAMPLE_NEW.read_bytes(), source="sample.json")
    with pytest.raises(UnknownTagError, match="did you mean AzureAdvancedThreatProtection"):
        resolve_tags(st, ["AzureAdvancedThreatProtektion"])


def test_trusted_prefixes_skip_only_what_was_validated() -> None:
    first = parse_service_tags(doc([tag("A", ["10.0.0.0/8", "2603::/16"])]))
    assert first.distinct_prefixes == {"10.0.0.0/8", "2603::/16"}
    second = parse_service_tags(
        doc([tag("A", ["10.0.0.0/8", "11.0.0.0/8"])]), trusted_prefixes=first.distinct_prefixes
    )
    assert second.tags["A"].prefixes == ("10.0.0.0/8", "11.0.0.0/8")
    with pytest.raises(DataError, match="host bits set"):
        parse_service_tags(
            doc([tag("A", ["10.0.0.0/8", "11.0.0.1/8"])]),
            trusted_prefixes=first.distinct_prefixes,
        )


def test_deferred_checks_still_never_hand_out_an_invalid_tag() -> None:
    data = doc([tag("Good", ["10.0.0.0/8"]), tag("Bad", ["10.0.0.1/8"])])
    with pytest.raises(DataError, match="tag Bad has invalid CIDR"):
        parse_service_tags(data, source="f.json")
    lazy = parse_service_tags(data, source="f.json", check_all_prefixes=False)
    assert lazy.tags["Good"].prefixes == ("10.0.0.0/8",)
    assert "Bad" in lazy.tags and len(lazy.tags) == 2
    with pytest.raises(DataError, match="tag Bad has invalid CIDR"):
        lazy.tags["Bad"]
    for read_everything in (lambda: list(lazy.tags.values()), lazy.validate):
        with pytest.raises(DataError, match="tag Bad"):
            read_everything()


def test_deferred_checks_canonicalise_on_first_read() -> None:
    lazy = parse_service_tags(doc([tag("A", ["2603:0000::/16"])]), check_all_prefixes=False)
    assert lazy.tags["A"].prefixes == ("2603::/16",)
    assert lazy.distinct_prefixes == {"2603::/16"}


def test_initials_and_spellings_select_only_a_single_tag() -> None:
    st = parse_service_tags(
        doc(
            [
                tag("AzureSecurityCenter", ["10.0.0.0/24"]),
                tag("AzureSpringCloud", ["10.0.1.0/24"]),
                tag("AzureCosmosDB", ["10.0.2.0/24"]),
                tag("AzureCosmosDB.WestEurope", ["10.0.2.0/25"]),
            ]
        ),
        source="mini.json",
    )
    # ASC is the initials of two tags: not guessed, both suggested.
    with pytest.raises(UnknownTagError) as info:
        resolve_tags(st, ["ASC"])
    assert str(info.value).endswith("did you mean AzureSecurityCenter, AzureSpringCloud?")
    # A regional variant through another spelling of its base name.
    [west] = resolve_tags(st, ["Cosmos DB.westeurope"])
    assert west.name == "AzureCosmosDB.WestEurope"
    assert [t.name for t in resolve_tags(st, ["cosmos-db"], regions=True)] == [
        "AzureCosmosDB",
        "AzureCosmosDB.WestEurope",
    ]


def test_names_equal_but_for_case_are_never_guessed() -> None:
    st = parse_service_tags(doc([tag("Ab.x", ["10.0.0.0/24"]), tag("AB.x", ["10.0.1.0/24"])]))
    assert [t.name for t in resolve_tags(st, ["AB.x"])] == ["AB.x"]  # exact wins
    with pytest.raises(UnknownTagError, match="did you mean"):
        resolve_tags(st, ["ab.x"])


def test_suggestions_ignore_case_and_complete_a_unique_prefix() -> None:
    from tagsync.suggest import did_you_mean, unknown_keys

    assert did_you_mean("IPTABLE", ["iptables", "nftables"]) == " (did you mean iptables?)"
    assert did_you_mean("nft", ["iptables", "nftables"]) == " (did you mean nftables?)"
    assert did_you_mean("zzz", ["iptables", "nftables"]) == ""
    assert unknown_keys({"tag"}, {"tags", "cloud"}) == (
        "unknown key 'tag' (did you mean tags?); known keys: cloud, tags"
    )
