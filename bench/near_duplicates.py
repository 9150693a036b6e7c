"""Sets of near-duplicate records with one question each: the hard case for question-aware compression.

NQ passages differ in topic, so ranking them against the question is easy to get mostly right.
Operational text is not like that: a dozen incident reports, invoices or shipments written from
one template differ only in their ids, dates, amounts and names. A compressor must keep the one
record the question names *and* the attribute asked for, while the other records look the same
to a relevance ranker. Ids, dates and amounts are what Lingua protects by default; the names and
places are not, which is why the questions ask for both kinds.

Every set is built from one seed (``random.Random(seed)``), so the cases are the same on every
machine. ``split="test"`` (the benchmark's held-out cases) and ``split="dev"`` (for trying
settings) use disjoint seeds. Within a set, every generated value is unique, the question's key
names exactly one record, and the answer string occurs in no other record and not in the
question: a surviving answer is the target record's own.

    .venv/bin/python bench/near_duplicates.py [--count 4] [--split dev]   # print cases
"""

from __future__ import annotations

import argparse
import datetime
import random
from collections.abc import Callable
from dataclasses import dataclass

INSTRUCTION = "Answer the question using only the records below."
RECORDS_PER_SET = 12
SPLIT_SEEDS = {"dev": 0, "test": 100_000}
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
FIRST_NAMES = (
    "Maria", "James", "Aisha", "Tomasz", "Priya", "Lukas", "Chen", "Sofia", "Daniel", "Fatima",
    "Oliver", "Yuki", "Elena", "Marcus", "Ingrid", "Rahul", "Nadia", "Pedro", "Hannah", "Kwame",
    "Lea", "Samuel", "Olga", "Mateo",
)  # fmt: skip
LAST_NAMES = (
    "Keller", "Novak", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Rossi", "Schmidt", "Haddad",
    "Kowalski", "Brennan", "Santos", "Iyer", "Fischer", "Dubois", "Larsen", "Petrova", "Walsh",
    "Costa", "Becker", "Nakamura", "Silva", "Horvat", "Jensen",
)  # fmt: skip
CITIES = (
    "Lyon", "Porto", "Leeds", "Graz", "Utrecht", "Gdansk", "Bilbao", "Aarhus", "Turin", "Malmo",
    "Ghent", "Brno", "Cork", "Basel", "Tampere", "Seville", "Bremen", "Krakow", "Nantes", "Bergen",
)  # fmt: skip
WAREHOUSES = ("Rotterdam", "Duisburg", "Antwerp", "Venlo", "Le Havre", "Hamburg", "Tilburg", "Zaragoza")
COMPANIES = (
    "Northwind Traders", "Bluefin Logistics", "Alder & Finch", "Cobalt Health", "Harbor Foods",
    "Quill Systems", "Redwood Pharma", "Larkspur Retail", "Ironbridge Tools", "Silverline Media",
    "Meadowbrook Farms", "Vantage Optics", "Pinecrest Hotels", "Orbit Textiles", "Summit Dental",
    "Kestrel Energy", "Juniper Labs", "Atlas Furniture",
)  # fmt: skip
GOODS = (
    "bottled water", "printer paper", "ceramic tiles", "bicycle tyres", "olive oil", "school desks",
    "coffee beans", "garden hoses", "LED panels", "canned tomatoes", "hand soap", "copper wire",
)  # fmt: skip

Style = dict[str, object]  # per-set choices: date format, id format and base, currency, start date
Maker = Callable[[random.Random, Style], str]


@dataclass(frozen=True)
class Case:
    """One question about one record of a near-duplicate set; ``answer`` is the exact string asked for."""

    name: str
    kind: str
    instruction: str
    records: tuple[str, ...]
    question: str
    answer: str
    target: int  # index of the record the question names
    asked: str  # the field asked for


@dataclass(frozen=True)
class Kind:
    """A record type: prose templates (one per set), field makers and questions (template, field asked)."""

    name: str
    templates: tuple[str, ...]
    fields: dict[str, Maker]
    questions: tuple[tuple[str, str], ...]
    repeatable: frozenset[str] = frozenset()  # fields that may repeat across records (never asked)


def _date(first_day: int, last_day: int) -> Maker:
    """A day in a window after the set's start date: sets are weeks long, so dates look alike."""

    def make(rng: random.Random, style: Style) -> str:
        start = style["start"]
        assert isinstance(start, datetime.date)
        day = start + datetime.timedelta(days=rng.randint(first_day, last_day))
        month = MONTHS[day.month - 1]
        return {
            "dmy": f"{day.day} {month} {day.year}",
            "mdy": f"{month} {day.day}, {day.year}",
            "iso": day.isoformat(),
        }[str(style["date_format"])]

    return make


def _near_id(rng: random.Random, style: Style) -> str:
    """Ids a few numbers apart (``SM-8501``, ``SM-8507``), as in one team's ticket queue."""
    base = style["id_base"]
    assert isinstance(base, int)
    return str(style["id_format"]).format(base + rng.randrange(40))


def _tracking(rng: random.Random, style: Style) -> str:
    """UPS-like numbers: one shipper prefix per set, so only the last digits differ."""
    return f"1Z{style['shipper']}{rng.randrange(10**8):08d}"


def _person(rng: random.Random, _style: Style) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _pick(pool: tuple[str, ...]) -> Maker:
    return lambda rng, _style: rng.choice(pool)


def _amount(rng: random.Random, style: Style) -> str:
    return f"{style['currency']}{rng.randrange(800, 48_000):,}.{rng.randrange(100):02d}"


def _time(rng: random.Random, _style: Style) -> str:
    return f"{rng.randrange(6, 23):02d}:{rng.randrange(0, 60, 5):02d}"


def _number(low: int, high: int) -> Maker:
    return lambda rng, _style: str(rng.randint(low, high))


def _reading(rng: random.Random, _style: Style) -> str:
    return f"{rng.randint(95, 179) / 10:.1f}"


KINDS: tuple[Kind, ...] = (
    Kind(
        "incident",
        (
            "Incident {ticket} was opened on {date} at {time} after {reporter} reported that checkout "
            "requests in {city} were timing out. {engineer} from the on-call team took ownership and "
            "restored service after {minutes} minutes. Finance estimated the revenue impact at {amount}.",
            "On {date} at {time}, {reporter} filed ticket {ticket}: the {city} payment gateway was "
            "rejecting card transactions. The ticket was assigned to {engineer}, who rolled back the "
            "faulty release within {minutes} minutes. Lost sales were put at {amount}.",
        ),
        {
            "ticket": _near_id,
            "date": _date(0, 27),
            "time": _time,
            "reporter": _person,
            "engineer": _person,
            "city": _pick(CITIES),
            "minutes": _number(12, 95),
            "amount": _amount,
        },
        (
            ("Which engineer handled incident {ticket}?", "engineer"),
            ("Who reported incident {ticket}?", "reporter"),
            ("On what date was incident {ticket} opened?", "date"),
            ("At what time was incident {ticket} opened?", "time"),
            ("In which city did incident {ticket} happen?", "city"),
            ("What was the revenue impact of incident {ticket}?", "amount"),
            ("What is the ticket id of the incident reported by {reporter}?", "ticket"),
        ),
        frozenset({"minutes"}),
    ),
    Kind(
        "invoice",
        (
            "Invoice {invoice} was issued to {customer} on {date} for {amount}, payable within {terms} "
            "days. Payment arrived on {paid} and was booked by {clerk} in the {city} office.",
            "On {date} the {city} office billed {customer} {amount} under invoice {invoice}, due within "
            "{terms} days. {clerk} recorded the payment on {paid}.",
        ),
        {
            "invoice": _near_id,
            "customer": _pick(COMPANIES),
            "date": _date(0, 20),
            "amount": _amount,
            "terms": _pick(("14", "30", "45", "60")),
            "paid": _date(25, 60),
            "clerk": _person,
            "city": _pick(CITIES),
        },
        (
            ("What was the amount of invoice {invoice}?", "amount"),
            ("Which customer was invoice {invoice} issued to?", "customer"),
            ("On what date was invoice {invoice} issued?", "date"),
            ("On what date was invoice {invoice} paid?", "paid"),
            ("Who booked the payment for invoice {invoice}?", "clerk"),
            ("What is the number of the invoice issued to {customer}?", "invoice"),
        ),
        frozenset({"terms"}),
    ),
    Kind(
        "shipment",
        (
            "Shipment {tracking} left the {origin} warehouse on {date} with {pallets} pallets of {goods} "
            "for {customer}. The carrier confirmed delivery in {city} on {delivered}, and {receiver} "
            "signed for it.",
            "{customer} ordered {pallets} pallets of {goods}, dispatched from {origin} on {date} under "
            "tracking number {tracking}. It reached {city} on {delivered} and was signed for by {receiver}.",
        ),
        {
            "tracking": _tracking,
            "origin": _pick(WAREHOUSES),
            "date": _date(0, 14),
            "pallets": _number(3, 40),
            "goods": _pick(GOODS),
            "customer": _pick(COMPANIES),
            "city": _pick(CITIES),
            "delivered": _date(15, 30),
            "receiver": _person,
        },
        (
            ("Who signed for shipment {tracking}?", "receiver"),
            ("On what date was shipment {tracking} delivered?", "delivered"),
            ("On what date did shipment {tracking} leave the warehouse?", "date"),
            ("Which customer was shipment {tracking} for?", "customer"),
            ("In which city was shipment {tracking} delivered?", "city"),
            ("What is the tracking number of the shipment signed for by {receiver}?", "tracking"),
        ),
        frozenset({"origin", "goods", "pallets"}),
    ),
    Kind(
        "lab",
        (
            "Sample {sample} from patient {patient} was collected on {date} at {time} and analysed by "
            "{technician}. Hemoglobin came back at {value} g/dL, and Dr. {doctor} signed off the report.",
            "{technician} ran the blood panel for sample {sample} ({patient}), drawn on {date} at {time}. "
            "The hemoglobin level was {value} g/dL; the report was approved by Dr. {doctor}.",
        ),
        {
            "sample": _near_id,
            "patient": _person,
            "date": _date(0, 20),
            "time": _time,
            "technician": _person,
            "value": _reading,
            "doctor": _person,
        },
        (
            ("Who analysed sample {sample}?", "technician"),
            ("What hemoglobin level was measured for sample {sample}?", "value"),
            ("Which doctor signed off the report for sample {sample}?", "doctor"),
            ("Which patient was sample {sample} taken from?", "patient"),
            ("On what date was sample {sample} collected?", "date"),
            ("What is the id of the sample taken from patient {patient}?", "sample"),
        ),
    ),
)

ID_FORMATS = {
    "incident": ("SM-{:04d}", "INC{:04d}", "OPS-{:05d}"),
    "invoice": ("INV-2024-{:04d}", "INV{:06d}", "B-{:05d}"),
    "lab": ("LAB-{:05d}", "S{:06d}", "HB-24-{:04d}"),
}


def _style(rng: random.Random, kind: Kind) -> Style:
    """One set's shared formats: records of one source are written the same way."""
    formats = ID_FORMATS.get(kind.name, ("{:05d}",))
    return {
        "date_format": rng.choice(("dmy", "mdy", "iso")),
        "start": datetime.date(2023, 1, 1) + datetime.timedelta(days=rng.randrange(900)),
        "id_format": rng.choice(formats),
        "id_base": rng.randrange(40, 9000),
        "currency": rng.choice(("$", "€", "£")),
        "shipper": f"{rng.randrange(16**6):06X}",
    }


def _records(rng: random.Random, kind: Kind, count: int) -> list[dict[str, str]]:
    """Field values per record, each value unique across the whole set (repeatable fields aside)."""
    style = _style(rng, kind)
    used: set[str] = set()
    rows: list[dict[str, str]] = []
    for _ in range(count):
        row = {}
        for name, make in kind.fields.items():
            value = make(rng, style)
            while name not in kind.repeatable and value in used:
                value = make(rng, style)
            used.add(value)
            row[name] = value
        rows.append(row)
    return rows


def _valid(records: list[str], target: int, question: str, key: str, answer: str) -> bool:
    """The key names one record only, and the answer can only come from that record."""
    others = [r for i, r in enumerate(records) if i != target]
    return (
        answer in records[target]
        and key in records[target]
        and answer not in question
        and not any(answer in r or key in r for r in others)
    )


def make_case(kind: Kind, seed: int, count: int = RECORDS_PER_SET) -> Case:
    """The set and question for one seed; redrawn (same generator, so still deterministic) until valid."""
    rng = random.Random(seed)
    for _ in range(100):
        rows = _records(rng, kind, count)
        template = rng.choice(kind.templates)
        records = [template.format(**row) for row in rows]
        target = rng.randrange(count)
        question_template, asked = rng.choice(kind.questions)
        key_field = question_template.split("{", 1)[1].split("}", 1)[0]
        question = question_template.format(**rows[target])
        answer = rows[target][asked]
        if _valid(records, target, question, rows[target][key_field], answer):
            return Case(f"{kind.name}[{seed}]", kind.name, INSTRUCTION, tuple(records), question, answer, target, asked)
    raise RuntimeError(f"no valid {kind.name} set for seed {seed}")


def cases(count: int = 60, split: str = "test") -> list[Case]:
    """``count`` cases, kinds in turn (so any prefix covers every kind), seeds disjoint between splits."""
    base = SPLIT_SEEDS[split]
    return [make_case(KINDS[i % len(KINDS)], base + i) for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--split", choices=sorted(SPLIT_SEEDS), default="test")
    args = parser.parse_args()
    for case in cases(args.count, args.split):
        print(f"## {case.name} (record {case.target}, asks {case.asked})\n")
        print("\n\n".join(case.records))
        print(f"\nQ: {case.question}\nA: {case.answer}\n")


if __name__ == "__main__":
    main()
