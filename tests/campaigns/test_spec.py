"""Campaign files: the shipped ones load, and every mistake names the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from orchestration.campaigns.config import check_campaigns, load_policy
from orchestration.campaigns.planning import campaign_catalogue
from orchestration.campaigns.spec import CAMPAIGNS_DIR, CampaignFileError, load_campaign, load_campaigns

LEGAL_NOTICES = {"consent_reconfirmation", "consent_change_notice"}
SHIPPED = {
    *LEGAL_NOTICES,
    "help_offer",
    "referral_offer",
    "repurchase_reminder",
    "signup_benefit",
    "vip_note",
    "welcome_coupon",
    "win_back",
}
VALID = {
    "id": "spring_sale",
    "name": "봄 세일",
    "owner": "crm-team",
    "purpose": "ad",
    "audience": "fct_audience_spring",
    "schedule": {"daily_at": "10:00"},
    "priority": 50,
    "frequency_cap_class": "promotional",
    "channels": ["email", "sms"],
    "templates": {
        "email": {"subject": "{{ name }}님", "body": "{{ name }}님, 봄이에요."},
        "sms": {"body": "{{ name }}님, 봄이에요."},
    },
}


def test_the_shipped_campaigns_load_and_fit_the_policy() -> None:
    specs = load_campaigns(CAMPAIGNS_DIR)
    assert {s.id for s in specs} == SHIPPED
    check_campaigns(specs, load_policy(CAMPAIGNS_DIR / "_policy.yaml"))
    for notice in (s for s in specs if s.id in LEGAL_NOTICES):
        assert notice.legally_required and notice.holdout_share == 0 and notice.purpose == "info"
    assert all(s.purpose == "ad" for s in specs if s.id not in LEGAL_NOTICES)


def _write(folder: Path, data: dict, name: str = "spring_sale.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _with(**changes: object) -> dict:
    data = {k: v for k, v in VALID.items() if changes.get(k, ...) is not None}
    data.update({k: v for k, v in changes.items() if v is not None})
    return data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_with(purpose="advert"), "purpose: Input should be 'ad' or 'info'"),
        (_with(id="Spring Sale"), "id: String should match pattern"),
        (_with(priority=0), "priority: Input should be greater than or equal to 1"),
        (_with(holdout_share=0.9), "holdout_share: Input should be less than or equal to 0.5"),
        (_with(colour="red"), "colour: Extra inputs are not permitted"),
        (_with(schedule={"daily_at": 600}), "schedule.daily_at: write times in quotes"),
        (_with(schedule={"daily_at": "10:00", "after_event": "x_at"}), "schedule: give exactly one of daily_at"),
        (_with(channels=["email", "sms", "kakao"]), "channels[2]: kakao (alimtalk) carries informational messages"),
        (_with(channels=["email", "fax"]), "channels.1: Input should be"),
        (_with(channels=["email", "sms", "email"]), "channels: each channel may appear once"),
        (_with(templates={"email": {"subject": "s", "body": "b"}}), "templates.sms: channel sms is planned but has no"),
        (_with(templates={"email": {"body": "b"}, "sms": {"body": "b"}}), "templates.email.subject: email needs a"),
        (
            _with(templates={"email": {"subject": "{{ name }", "body": "b"}, "sms": {"body": "b"}}),
            "templates.email: subject: template syntax error on line 1",
        ),
        (
            _with(templates={"email": {"subject": "s", "body": "b"}, "sms": {"body": "b", "template_code": "X"}}),
            "templates.sms: template_code/variables belong to kakao alimtalk only",
        ),
        (_with(purpose="info", legally_required=True, holdout_share=0.1), "holdout_share: a legally required message"),
        (_with(legally_required=True), "legally_required: only an informational campaign"),
        (_with(coupon={"prefix": "spring", "benefit": "10%", "valid_days": 7}), "coupon.prefix: String should match"),
        (_with(audience="marts.fct_x; drop table"), "audience: must be a lower-case dbt model or column name"),
    ],
)
def test_mistakes_name_the_file_and_the_field(tmp_path: Path, data: dict, message: str) -> None:
    with pytest.raises(CampaignFileError) as error:
        load_campaign(_write(tmp_path, data))
    assert str(error.value).startswith("spring_sale.yaml: ")
    assert message in str(error.value)


def test_kakao_needs_its_template_code_and_variables(tmp_path: Path) -> None:
    data = _with(
        purpose="info",
        frequency_cap_class="service",
        channels=["kakao"],
        templates={"kakao": {"body": "{{ name }}님, 안내드려요."}},
    )
    with pytest.raises(CampaignFileError, match=r"templates\.kakao\.template_code: alimtalk needs"):
        load_campaign(_write(tmp_path, data))
    data["templates"]["kakao"]["template_code"] = "NOTICE_1"
    with pytest.raises(CampaignFileError, match=r"templates\.kakao\.variables: alimtalk needs"):
        load_campaign(_write(tmp_path, data))
    data["templates"]["kakao"]["variables"] = {"고객명": "{{ name }}"}
    assert load_campaign(_write(tmp_path, data)).templates["kakao"].template_code == "NOTICE_1"


def test_the_file_name_is_the_id_and_policy_cross_checks(tmp_path: Path) -> None:
    with pytest.raises(CampaignFileError, match=r"other\.yaml: id: 'spring_sale' must match the file name"):
        load_campaign(_write(tmp_path, VALID, "other.yaml"))
    with pytest.raises(CampaignFileError, match=r"spring_sale\.yaml: not valid YAML"):
        (tmp_path / "spring_sale.yaml").write_text("id: [unclosed", encoding="utf-8")
        load_campaign(tmp_path / "spring_sale.yaml")
    spec = load_campaign(_write(tmp_path, _with(frequency_cap_class="flash")))
    with pytest.raises(CampaignFileError, match=r"spring_sale\.yaml: frequency_cap_class: 'flash' is not one of"):
        check_campaigns([spec], load_policy(CAMPAIGNS_DIR / "_policy.yaml"))
    spec = load_campaign(_write(tmp_path, _with(frequency_cap_class="service")))
    with pytest.raises(CampaignFileError, match="an ad campaign must count against the frequency caps"):
        check_campaigns([spec], load_policy(CAMPAIGNS_DIR / "_policy.yaml"))


def test_files_starting_with_an_underscore_are_settings_not_campaigns(tmp_path: Path) -> None:
    _write(tmp_path, VALID)
    (tmp_path / "_policy.yaml").write_text("control_group: {share: 0.1}\n", encoding="utf-8")
    assert [s.id for s in load_campaigns(tmp_path)] == ["spring_sale"]
    assert load_policy(tmp_path / "_policy.yaml").control_group.share == 0.1
    (tmp_path / "_policy.yaml").write_text("control_group: {share: 0.9}\n", encoding="utf-8")
    with pytest.raises(CampaignFileError, match=r"_policy\.yaml: control_group\.share"):
        load_policy(tmp_path / "_policy.yaml")


def test_the_campaign_catalogue_carries_what_measurement_needs() -> None:
    catalogue = campaign_catalogue(load_campaigns(CAMPAIGNS_DIR)).set_index("campaign_id")
    assert set(catalogue.index) == SHIPPED
    assert catalogue.at["welcome_coupon", "conversion_goal"] == "purchase"
    assert catalogue.at["welcome_coupon", "coupon_prefix"] == "WELCOME"
    assert catalogue.at["consent_reconfirmation", "holdout_share"] == 0
