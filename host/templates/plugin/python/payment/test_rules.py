import unittest

from rules import Decline, refund_id, transaction_id


class PaymentTest(unittest.TestCase):
    def test_the_same_payment_always_gets_the_same_ids_and_bad_ones_are_declined(self):
        self.assertEqual(transaction_id("pay-1", 4200), transaction_id("pay-1", 4200))
        self.assertNotEqual(transaction_id("pay-1", 4200), transaction_id("pay-2", 4200))
        with self.assertRaises(Decline) as zero:
            transaction_id("pay-1", 0)
        self.assertEqual(zero.exception.code, "zero_amount")
        self.assertEqual(refund_id("pay-1"), refund_id("pay-1"))


if __name__ == "__main__":
    unittest.main()
