"""Unit tests of the gateway rules, run with plain Python: `python3 -m unittest`."""

import unittest

import rules


class Rules(unittest.TestCase):
    def test_same_payment_id_same_transaction(self):
        self.assertEqual(rules.charge("payment-456", 4200), rules.charge("payment-456", 4200))
        self.assertNotEqual(rules.charge("payment-456", 4200), rules.charge("payment-457", 4200))

    def test_fnv1a_is_the_standard_64_bit_function(self):
        # Published FNV-1a 64 test vectors: the Rust plugin derives its ids with the same function.
        self.assertEqual(rules.fnv1a(b""), 0xCBF29CE484222325)
        self.assertEqual(rules.fnv1a(b"a"), 0xAF63DC4C8601EC8C)
        self.assertEqual(rules.fnv1a(b"foobar"), 0x85944171F73967E8)

    def test_declines_over_the_limit(self):
        self.assertTrue(rules.charge("p", rules.AMOUNT_LIMIT_CENTS))
        with self.assertRaises(rules.Decline) as caught:
            rules.charge("p", rules.AMOUNT_LIMIT_CENTS + 1)
        self.assertEqual(caught.exception.code, "amount_over_limit")
        self.assertIn("$10000.01", caught.exception.message)

    def test_refunds_are_idempotent(self):
        self.assertEqual(rules.refund_id("p"), rules.refund_id("p"))
        with self.assertRaises(rules.Decline):
            rules.refund_id("")


if __name__ == "__main__":
    unittest.main()
