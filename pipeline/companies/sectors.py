"""Map the data's free-text industry labels onto the 11 GICS sectors.

pytickersymbols gives each company a list of ``industries`` drawn from several sources (over
1,100 distinct labels: "Financials", "Banking & Investment Services", "Oil & Gas",
"Ölförderung", "Payment processor , technology , e-commerce"...). We derive one sector per
company by voting:

1. a label that *is* a sector name or a provider's sector-level synonym (Refinitiv TRBC
   economic sectors such as "Consumer Cyclicals", "Basic Materials") votes 3 for that sector;
2. every keyword rule in :data:`KEYWORD_RULES` that matches a label (case-insensitive
   substring of the label) votes 1; the first matching rule per label wins, so put specific
   rules ("gas utilit") before general ones ("gas");
3. most votes wins; ties go to the sector seen first in the labels' own order;
4. no vote: the same keyword rules over the company's name ("... Bancorp", "... Pharma");
5. still nothing: :data:`UNCLASSIFIED`.

Sector definitions follow S&P/MSCI's GICS structure (2023 revision: payment processors are
Financials). The raw labels are kept as ``Company.industry``.
"""

from __future__ import annotations

import re

GICS_SECTORS: tuple[str, ...] = (
    "Energy", "Materials", "Industrials", "Consumer Discretionary", "Consumer Staples",
    "Health Care", "Financials", "Information Technology", "Communication Services",
    "Utilities", "Real Estate",
)
UNCLASSIFIED = "Unclassified"

#: Sector-level labels (lower case) → sector; each votes 3.
SECTOR_LABELS: dict[str, str] = {
    "energy": "Energy",
    "materials": "Materials", "basic materials": "Materials",
    "industrials": "Industrials", "industrial goods": "Industrials",
    "industrial & commercial services": "Industrials",
    "consumer discretionary": "Consumer Discretionary", "consumer cyclicals": "Consumer Discretionary",
    "cyclical consumer products": "Consumer Discretionary",
    "cyclical consumer services": "Consumer Discretionary",
    "consumer staples": "Consumer Staples", "consumer non-cyclicals": "Consumer Staples",
    "health care": "Health Care", "healthcare": "Health Care",
    "financials": "Financials", "financial services": "Financials", "financial": "Financials",
    "information technology": "Information Technology", "technology": "Information Technology",
    "communication services": "Communication Services",
    "telecommunications services": "Communication Services",
    "utilities": "Utilities",
    "real estate": "Real Estate",
}

#: (regex searched in a lower-cased label, sector); first match per label votes 1. Order matters.
KEYWORD_RULES: tuple[tuple[re.Pattern, str], ...] = tuple(
    (re.compile(pattern), sector) for pattern, sector in (
        (r"reit|real estate|propert|realty|landlord|immobil", "Real Estate"),
        (r"utilit|water supply|power generation|electricity|independent power|multi-util", "Utilities"),
        (r"pharma|biotech|medic|health|hospital|diagnos|life science|drug|clinic|dental|surgical|"
         r"pflege|caregiving",
         "Health Care"),
        (r"bank|insur|invest|asset manag|capital market|financ|credit|payment|brokerage|exchange|"
         r"lending|mortgage|reinsur|bancorp|wealth|beteiligung|holding", "Financials"),
        (r"oil|gas|petrol|coal|fossil|drilling|refin|pipeline|ölförderung|energie|energy", "Energy"),
        (r"semiconduct|software|computer|it services|information tech|electronic|cloud|"
         r"cyber|internet security|network|data process|technology|saas|hardware|elektron|"
         r"it-dienst|it and consulting|precision instrument", "Information Technology"),
        (r"telecom|media|publish|entertainment|broadcast|advertis|video game|interactive|internet|"
         r"cable|wireless|social network|film|music|television|werbung", "Communication Services"),
        (r"chemic|steel|metal|mining|mineral|paper|packag|cement|construction material|gold|"
         r"alumin|copper|forest|glass|fertili|lithium|chemie|montan|stahl", "Materials"),
        (r"food|beverage|tobacco|brew|household product|personal product|personal care|grocer|"
         r"supermarket|agricultur|drink|cosmetic|spirits|wine|dairy|riechstoff|fragrance|parfum", "Consumer Staples"),
        (r"retail|automo|auto |auto$|car |apparel|hotel|restaurant|leisure|homebuild|"
         r"household durable|textile|luxury|travel|casino|gaming|e-commerce|consumer|cruise|"
         r"footwear|fashion|sport|toy|education|lodging|freizeit", "Consumer Discretionary"),
        (r"aerospace|defen[cs]e|machinery|industrial|construct|engineering|transport|airline|"
         r"logistic|railroad|rail|trucking|shipping|conglomerate|electrical|manufactur|"
         r"commercial service|professional service|building|waste|staffing|security service|"
         r"airport|freight|marine|tools|equipment|services|dienstleistung|trading compan|"
         r"general trading|sogo shosha|inspection|certification|research|consulting", "Industrials"),
    )
)


def derive_sector(industries: list[str] | tuple[str, ...], name: str = "") -> str:
    """One GICS sector from free-text industry labels (see the module docstring for the rule).

    Args:
        industries: the raw labels, in the source's order.
        name: the company name, used only when no label votes.

    Returns:
        one of :data:`GICS_SECTORS`, or :data:`UNCLASSIFIED`.
    """
    votes: dict[str, int] = {}
    order: list[str] = []
    for label in industries:
        low = " ".join(label.lower().split())
        sector = SECTOR_LABELS.get(low)
        weight = 3
        if sector is None:
            sector, weight = _keyword_sector(low), 1
        if sector is not None:
            if sector not in votes:
                order.append(sector)
            votes[sector] = votes.get(sector, 0) + weight
    if votes:
        return max(order, key=lambda s: (votes[s], -order.index(s)))
    return _keyword_sector(name.lower()) or UNCLASSIFIED


def _keyword_sector(text: str) -> str | None:
    for pattern, sector in KEYWORD_RULES:
        if pattern.search(text):
            return sector
    return None


def normalise_sector(value: str) -> str | None:
    """A user-given sector name as its GICS spelling (case-insensitive; sector-level synonyms
    such as "Technology" or "Healthcare" accepted), or None when it is not a sector."""
    low = " ".join(str(value).lower().split())
    for sector in GICS_SECTORS + (UNCLASSIFIED,):
        if sector.lower() == low:
            return sector
    return SECTOR_LABELS.get(low)
