import unittest

from rules import Undeliverable, package_id, parcel, tracking


class ShippingTest(unittest.TestCase):
    def test_parcels_grow_with_their_units_and_ids_are_stable(self):
        self.assertEqual(parcel(2), (600, "small"))
        self.assertEqual(parcel(10)[1], "medium")
        self.assertEqual(parcel(100)[1], "freight")
        self.assertEqual(package_id("order-1", 1), package_id("order-1", 1))
        self.assertNotEqual(tracking("order-1", 1, "94105"), tracking("order-1", 2, "94105"))
        with self.assertRaises(Undeliverable):
            tracking("order-1", 1, "")


if __name__ == "__main__":
    unittest.main()
