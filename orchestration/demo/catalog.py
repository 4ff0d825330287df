"""Fixed vocabularies of the demo shop: names, mail domains, acquisition channels and the catalogue.

Kept as data so the generators stay about behaviour; every weight here is a realistic guess, not a
measurement.
"""

from __future__ import annotations

from dataclasses import dataclass

# Korean surnames with their approximate population share (2015 census, %), and a common romanisation
# used in e-mail addresses.
SURNAMES: tuple[tuple[str, str, float], ...] = (
    ("김", "kim", 21.5),
    ("이", "lee", 14.7),
    ("박", "park", 8.4),
    ("최", "choi", 4.7),
    ("정", "jung", 4.3),
    ("강", "kang", 2.3),
    ("조", "cho", 2.1),
    ("윤", "yoon", 2.0),
    ("장", "jang", 1.9),
    ("임", "lim", 1.7),
    ("한", "han", 1.5),
    ("오", "oh", 1.5),
    ("서", "seo", 1.5),
    ("신", "shin", 1.5),
    ("권", "kwon", 1.4),
    ("황", "hwang", 1.4),
    ("안", "ahn", 1.3),
    ("송", "song", 1.3),
    ("전", "jeon", 1.1),
    ("홍", "hong", 1.1),
    ("유", "yoo", 1.1),
    ("고", "ko", 0.9),
    ("문", "moon", 0.9),
    ("양", "yang", 0.9),
    ("손", "son", 0.9),
    ("배", "bae", 0.8),
    ("백", "baek", 0.8),
    ("허", "heo", 0.6),
    ("노", "noh", 0.6),
    ("남", "nam", 0.6),
    ("심", "shim", 0.5),
    ("하", "ha", 0.5),
    ("곽", "kwak", 0.4),
    ("성", "sung", 0.4),
    ("차", "cha", 0.4),
    ("주", "joo", 0.4),
    ("우", "woo", 0.4),
    ("구", "koo", 0.4),
    ("민", "min", 0.3),
    ("류", "ryu", 0.3),
    ("나", "na", 0.3),
    ("진", "jin", 0.3),
    ("지", "ji", 0.3),
    ("엄", "eom", 0.3),
    ("채", "chae", 0.3),
    ("원", "won", 0.3),
    ("천", "cheon", 0.2),
    ("방", "bang", 0.2),
    ("공", "kong", 0.2),
    ("현", "hyun", 0.2),
)

# Two-syllable given names. A beauty/health shop's customers are mostly women, so female names
# carry three quarters of the weight; within each list earlier names are more common.
_FEMALE_NAMES: tuple[tuple[str, str], ...] = (
    ("민지", "minji"),
    ("서연", "seoyeon"),
    ("지우", "jiwoo"),
    ("서윤", "seoyun"),
    ("지민", "jimin"),
    ("수빈", "subin"),
    ("예은", "yeeun"),
    ("하은", "haeun"),
    ("유진", "yujin"),
    ("지현", "jihyun"),
    ("수진", "sujin"),
    ("은지", "eunji"),
    ("현정", "hyunjung"),
    ("민서", "minseo"),
    ("지영", "jiyoung"),
    ("혜진", "hyejin"),
    ("소연", "soyeon"),
    ("다은", "daeun"),
    ("윤아", "yoona"),
    ("채원", "chaewon"),
    ("지은", "jieun"),
    ("수연", "suyeon"),
    ("은비", "eunbi"),
    ("예린", "yerin"),
    ("나연", "nayeon"),
    ("하린", "harin"),
    ("서현", "seohyun"),
    ("지수", "jisoo"),
    ("민경", "minkyung"),
    ("선영", "sunyoung"),
    ("미영", "miyoung"),
    ("은정", "eunjung"),
    ("정은", "jungeun"),
    ("혜원", "hyewon"),
    ("보람", "boram"),
    ("아름", "areum"),
    ("소희", "sohee"),
    ("다인", "dain"),
    ("가은", "gaeun"),
    ("지아", "jia"),
    ("유나", "yuna"),
    ("슬기", "seulgi"),
    ("세영", "seyoung"),
    ("현주", "hyunju"),
    ("은영", "eunyoung"),
    ("미진", "mijin"),
    ("경희", "kyunghee"),
    ("영희", "younghee"),
    ("민아", "mina"),
    ("주희", "joohee"),
)
_MALE_NAMES: tuple[tuple[str, str], ...] = (
    ("민준", "minjun"),
    ("서준", "seojun"),
    ("도윤", "doyun"),
    ("지훈", "jihoon"),
    ("현우", "hyunwoo"),
    ("준호", "junho"),
    ("성민", "sungmin"),
    ("동현", "donghyun"),
    ("준영", "junyoung"),
    ("태윤", "taeyun"),
    ("재현", "jaehyun"),
    ("승민", "seungmin"),
    ("우진", "woojin"),
    ("민재", "minjae"),
    ("정훈", "junghoon"),
    ("상훈", "sanghoon"),
    ("영수", "youngsoo"),
    ("진호", "jinho"),
    ("건우", "gunwoo"),
    ("시우", "siwoo"),
)


def _zipf(n: int, total: float) -> list[float]:
    raw = [1.0 / (rank + 1) ** 0.7 for rank in range(n)]
    return [total * w / sum(raw) for w in raw]


GIVEN_NAMES: tuple[tuple[str, str, float], ...] = tuple(
    (hangul, roman, weight)
    for names, share in ((_FEMALE_NAMES, 0.75), (_MALE_NAMES, 0.25))
    for (hangul, roman), weight in zip(names, _zipf(len(names), share), strict=True)
)

EMAIL_DOMAINS: tuple[tuple[str, float], ...] = (
    ("naver.com", 0.42),
    ("gmail.com", 0.30),
    ("daum.net", 0.08),
    ("hanmail.net", 0.06),
    ("kakao.com", 0.06),
    ("nate.com", 0.04),
    ("icloud.com", 0.02),
    ("hotmail.com", 0.02),
)


@dataclass(frozen=True)
class Channel:
    """Where a visit came from, as utm parameters; the weights say how often it brings sign-ups, how
    often anonymous visitors who never sign up, and how often leads (paid ads only)."""

    source: str | None
    medium: str | None
    campaigns: tuple[str, ...]
    signup_weight: float
    visitor_weight: float
    lead_weight: float = 0.0


CHANNELS: tuple[Channel, ...] = (
    Channel("naver", "cpc", ("brand_keyword", "skincare_generic", "season_sale"), 0.18, 0.22, 0.30),
    Channel("naver", "organic", (), 0.10, 0.08),
    Channel("instagram", "social", ("reels_daily", "influencer_collab"), 0.12, 0.08),
    Channel("instagram", "paid", ("retarget_viewers", "lookalike_buyers"), 0.08, 0.18, 0.20),
    Channel("kakao", "social", ("channel_coupon",), 0.08, 0.04),
    Channel("google", "cpc", ("brand_search", "pmax_shopping"), 0.08, 0.14, 0.20),
    Channel("google", "organic", (), 0.06, 0.06),
    Channel("youtube", "social", ("creator_review",), 0.04, 0.04),
    Channel("direct", "none", (), 0.18, 0.16),
    Channel("referral", "referral", ("friend_invite",), 0.06, 0.0),
    Channel(None, None, (), 0.02, 0.0),
    # Ads that only ever bring leads here (restock alerts, event entries); appended so that the draws of
    # sign-up and visitor channels (zero weight here) stay what they were.
    Channel("kakao", "display", ("bizboard_restock",), 0.0, 0.0, 0.15),
    Channel("meta", "paid_social", ("event_giveaway",), 0.0, 0.0, 0.15),
)
REFERRAL_CHANNEL = next(i for i, c in enumerate(CHANNELS) if c.source == "referral")
DIRECT_CHANNEL = next(i for i, c in enumerate(CHANNELS) if c.source == "direct")

# Clicks on dangol's own messages carry these utm values (medium "crm"), one source per channel.
MESSAGE_SOURCES: tuple[str, ...] = ("email", "sms", "kakao", "app_push")
MESSAGE_CAMPAIGNS: tuple[str, ...] = (
    "welcome_series",
    "replenish_reminder",
    "winback_60d",
    "cart_reminder",
    "vip_thanks",
)

# Shop-local hour-of-day weights for visits and orders: quiet at night, lunch and evening peaks.
HOUR_WEIGHTS: tuple[int, ...] = (
    3,
    2,
    1,
    1,
    1,
    1,
    2,
    4,
    6,
    7,
    8,
    8,
    9,
    8,
    7,
    7,
    7,
    7,
    8,
    9,
    11,
    12,
    11,
    7,
)

# Category -> (typical replenishment days or None, share of customers for whom it is the favourite).
CATEGORIES: tuple[tuple[str, int | None, float], ...] = (
    ("skincare", 30, 0.34),
    ("cleansing", 45, 0.12),
    ("supplements", 60, 0.16),
    ("haircare", 50, 0.12),
    ("bodycare", 40, 0.10),
    ("fragrance", None, 0.06),
    ("makeup", None, 0.08),
    ("gift_set", None, 0.02),
)

# Product lines of the shop's own brand and how they move the base price.
LINES: tuple[tuple[str, float], ...] = (("하루결", 1.0), ("숲결", 1.1), ("빛결", 1.2), ("온결", 1.4))

# (category, item, base price in KRW). Items priced 150,000 and up are sold as one product only.
ITEMS: tuple[tuple[str, str, int], ...] = (
    ("skincare", "수분 크림 50ml", 28_000),
    ("skincare", "진정 토너 200ml", 22_000),
    ("skincare", "비타민C 세럼 30ml", 32_000),
    ("skincare", "히알루론 앰플 30ml", 35_000),
    ("skincare", "선크림 SPF50+ 50ml", 19_000),
    ("skincare", "아이크림 30ml", 38_000),
    ("skincare", "수분 에센스 150ml", 29_000),
    ("skincare", "레티놀 세럼 30ml", 42_000),
    ("skincare", "미스트 100ml", 15_000),
    ("skincare", "수면팩 80ml", 24_000),
    ("skincare", "시트 마스크 10매", 18_000),
    ("skincare", "토너패드 70매", 21_000),
    ("cleansing", "약산성 클렌징폼 150ml", 14_000),
    ("cleansing", "클렌징 오일 200ml", 23_000),
    ("cleansing", "클렌징 밤 100ml", 25_000),
    ("cleansing", "필링 젤 150ml", 16_000),
    ("cleansing", "포어 클렌저 120ml", 15_000),
    ("cleansing", "립앤아이 리무버 100ml", 11_000),
    ("cleansing", "클렌징 워터 500ml", 17_000),
    ("supplements", "멀티비타민 60정", 29_000),
    ("supplements", "유산균 30포", 35_000),
    ("supplements", "저분자 콜라겐 30포", 45_000),
    ("supplements", "rTG 오메가3 60캡슐", 39_000),
    ("supplements", "루테인 지아잔틴 30캡슐", 27_000),
    ("supplements", "비오틴 60정", 19_000),
    ("supplements", "마그네슘 60정", 18_000),
    ("supplements", "밀크씨슬 30정", 22_000),
    ("supplements", "홍삼 스틱 30포", 59_000),
    ("supplements", "철분 엽산 60정", 16_000),
    ("haircare", "탈모 완화 샴푸 500ml", 24_000),
    ("haircare", "두피 스케일러 150ml", 19_000),
    ("haircare", "단백질 트리트먼트 300ml", 21_000),
    ("haircare", "헤어 에센스 100ml", 18_000),
    ("haircare", "헤어 오일 70ml", 22_000),
    ("haircare", "약산성 컨디셔너 500ml", 20_000),
    ("bodycare", "바디워시 500ml", 16_000),
    ("bodycare", "바디로션 400ml", 19_000),
    ("bodycare", "핸드크림 50ml", 9_900),
    ("bodycare", "풋크림 80ml", 12_000),
    ("bodycare", "바디 스크럽 250ml", 18_000),
    ("bodycare", "데오드란트 50ml", 13_000),
    ("fragrance", "오 드 퍼퓸 50ml", 79_000),
    ("fragrance", "오 드 퍼퓸 100ml", 168_000),
    ("fragrance", "헤어 퍼퓸 30ml", 25_000),
    ("fragrance", "섬유 향수 200ml", 15_000),
    ("fragrance", "디퓨저 200ml", 35_000),
    ("fragrance", "롤온 퍼퓸 10ml", 19_000),
    ("makeup", "쿠션 팩트", 29_000),
    ("makeup", "립 틴트", 15_000),
    ("makeup", "아이섀도 팔레트", 32_000),
    ("makeup", "컨실러", 18_000),
    ("makeup", "파운데이션 30ml", 35_000),
    ("makeup", "마스카라", 17_000),
    ("makeup", "톤업 베이스", 24_000),
    ("gift_set", "스킨케어 3종 세트", 79_000),
    ("gift_set", "명절 선물세트", 89_000),
    ("gift_set", "미니 체험 키트", 12_900),
    ("gift_set", "프리미엄 안티에이징 세트", 189_000),
    ("gift_set", "LED 홈케어 디바이스", 289_000),
    ("gift_set", "건강 선물세트 3종", 159_000),
)
HIGH_PRICE = 150_000
# Handed out with free-sample orders (amount 0); never bought on its own.
SAMPLE_ITEM = ("gift_set", "체험용 샘플 파우치", 0)

SURVEY_COMMENTS: tuple[tuple[str, ...], ...] = (
    ("배송이 너무 늦었어요", "트러블이 생겨서 환불 요청했어요", '상품이 파손되어 왔어요. "교환" 부탁드려요'),
    ("제 피부에는 조금 자극이 있었어요", "포장이 아쉬웠어요, 내용물이 샜어요"),
    ("보통이에요", "아직 효과는 잘 모르겠어요", "무난해요, 특별한 건 없네요"),
    ("만족합니다. 다만 용량이 조금 아쉬워요", "가격 대비 괜찮아요", "효과는 좋은데 배송이 하루 늦었어요"),
    (
        "재구매 의사 100%입니다",
        "피부가 확실히 촉촉해졌어요",
        "배송이 빨라서 좋았어요",
        "향이 은은해서, 매일 쓰고 있어요",
        "선물용으로 샀는데 반응이 좋아요",
    ),
)


def _check() -> None:
    romans = [r for _, r, _ in GIVEN_NAMES]
    assert len(set(romans)) == len(romans), "given-name romanisations must be unique"
    assert len({r for _, r, _ in SURNAMES}) == len(SURNAMES), "surname romanisations must be unique"
    # Random e-mail local parts are 8 characters; "<surname><given><4 digits>" must always be longer.
    assert min(len(s) for _, s, _ in SURNAMES) + min(map(len, romans)) + 4 > 8


_check()
