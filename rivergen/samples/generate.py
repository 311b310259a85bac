"""Write the shop sample (customers, products, orders) as CSV, deterministically.

    python -m rivergen.samples.generate        (rewrites rivergen/samples/shop/*.csv)

The same seed always gives the same files; the committed CSVs are this script's output.
"""

from __future__ import annotations

import csv
import random
from datetime import date, timedelta
from pathlib import Path

SEED = 20240601
SHOP = Path(__file__).resolve().parent / "shop"

FIRST = [
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Emma",
    "Felix",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Karin",
    "Liam",
    "Mia",
    "Noah",
    "Olga",
    "Paul",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Uma",
    "Victor",
    "Wendy",
    "Xavier",
    "Yara",
    "Zoe",
]
LAST = [
    "Adler",
    "Brown",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ito",
    "Jensen",
    "Keller",
    "Lopez",
    "Martin",
    "Novak",
    "Olsen",
    "Petit",
    "Rossi",
    "Smith",
    "Schmidt",
    "Taylor",
    "Weber",
    "Young",
]
CITIES = {
    "Berlin": "Germany",
    "Munich": "Germany",
    "Hamburg": "Germany",
    "Paris": "France",
    "Lyon": "France",
    "London": "United Kingdom",
    "Manchester": "United Kingdom",
    "New York": "United States",
    "Chicago": "United States",
    "Austin": "United States",
    "Madrid": "Spain",
    "Barcelona": "Spain",
    "Rome": "Italy",
    "Milan": "Italy",
    "Amsterdam": "Netherlands",
}
SEGMENTS = ["Consumer", "Corporate", "Small Business"]
CATEGORIES = {
    "Electronics": (
        [
            "Headphones",
            "Speaker",
            "Monitor",
            "Keyboard",
            "Tablet",
            "Camera",
            "Smartwatch",
            "Router",
            "Laptop",
            "Charger",
        ],
        (15.0, 1500.0),
        (0.1, 4.0),
    ),
    "Books": (
        [
            "Cookbook",
            "Novel",
            "Atlas",
            "Biography",
            "Poetry Collection",
            "Travel Guide",
            "Comic",
            "Dictionary",
        ],
        (6.0, 60.0),
        (0.2, 2.0),
    ),
    "Clothing": (
        [
            "Jacket",
            "Sweater",
            "Jeans",
            "Raincoat",
            "Sneakers",
            "Scarf",
            "Hoodie",
            "Boots",
            "Dress",
            "Shirt",
        ],
        (12.0, 300.0),
        (0.2, 2.5),
    ),
    "Home": (
        [
            "Lamp",
            "Kettle",
            "Blender",
            "Armchair",
            "Rug",
            "Vacuum Cleaner",
            "Toaster",
            "Desk",
            "Bookshelf",
            "Coffee Maker",
        ],
        (20.0, 900.0),
        (0.5, 40.0),
    ),
    "Sports": (
        [
            "Yoga Mat",
            "Tennis Racket",
            "Bicycle",
            "Dumbbells",
            "Football",
            "Tent",
            "Backpack",
            "Helmet",
            "Skis",
            "Rowing Machine",
        ],
        (10.0, 1200.0),
        (0.3, 45.0),
    ),
    "Toys": (
        [
            "Puzzle",
            "Board Game",
            "Teddy Bear",
            "Kite",
            "Train Set",
            "Building Blocks",
            "Doll House",
            "Robot Kit",
        ],
        (5.0, 250.0),
        (0.1, 12.0),
    ),
}
ADJECTIVES = ["Classic", "Pro", "Compact", "Deluxe", "Eco", "Ultra", "Smart", "Mini"]
STATUSES = ["delivered"] * 6 + ["shipped"] * 2 + ["pending", "cancelled", "returned"]
CHANNELS = ["web", "web", "mobile", "store"]


def _customers(rng: random.Random, n: int) -> list[dict[str, object]]:
    rows = []
    start = date(2022, 1, 1)
    for i in range(1, n + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        city = rng.choice(list(CITIES))
        rows.append(
            {
                "customer_id": i,
                "name": f"{first} {last}",
                "email": f"{first.lower()}.{last.lower()}{i}@example.com",
                "phone": f"+1-555-{rng.randrange(1000, 9999)}",
                "city": city,
                "country": CITIES[city],
                "segment": rng.choices(SEGMENTS, weights=[6, 3, 2])[0],
                "signup_date": (start + timedelta(days=rng.randrange(0, 3 * 365))).isoformat(),
            }
        )
    return rows


def _products(rng: random.Random) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for category, (items, (low, high), (wlow, whigh)) in CATEGORIES.items():
        for item in items:
            rows.append(
                {
                    "product_id": len(rows) + 1,
                    "name": f"{rng.choice(ADJECTIVES)} {item}",
                    "category": category,
                    "price": round(rng.uniform(low, high), 2),
                    "weight_kg": round(rng.uniform(wlow, whigh), 2),
                }
            )
    return rows


def _orders(
    rng: random.Random, n: int, customers: int, products: list[dict[str, object]]
) -> list[dict[str, object]]:
    rows = []
    start = date(2023, 1, 1)
    for i in range(1, n + 1):
        product = rng.choice(products)
        quantity = rng.choices([1, 2, 3, 4, 5], weights=[10, 5, 3, 1, 1])[0]
        price = product["price"]
        assert isinstance(price, float)
        rows.append(
            {
                "order_id": 10000 + i,
                "customer_id": rng.randint(1, customers),
                "product_id": product["product_id"],
                "order_date": (start + timedelta(days=rng.randrange(0, 912))).isoformat(),
                "quantity": quantity,
                "amount": round(quantity * price, 2),
                "status": rng.choice(STATUSES),
                "channel": rng.choice(CHANNELS),
            }
        )
    return rows


def _write(directory: Path, name: str, rows: list[dict[str, object]]) -> None:
    with (directory / f"{name}.csv").open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_shop(directory: Path = SHOP) -> None:
    """Write customers.csv, products.csv and orders.csv into ``directory``."""
    rng = random.Random(SEED)
    customers = _customers(rng, 400)
    products = _products(rng)
    orders = _orders(rng, 3000, len(customers), products)
    directory.mkdir(parents=True, exist_ok=True)
    _write(directory, "customers", customers)
    _write(directory, "products", products)
    _write(directory, "orders", orders)


def main() -> None:
    write_shop()


if __name__ == "__main__":
    main()
