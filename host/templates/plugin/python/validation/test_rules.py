import unittest

from rules import Invalid, Line, total


class TotalTest(unittest.TestCase):
    def test_totals_the_lines_and_lists_every_problem(self):
        self.assertEqual(total([Line("A-1", 2, 1250), Line("B", 1, 99)]), 2599)
        with self.assertRaises(Invalid) as bad:
            total([Line("A-1", 0, 0)])
        self.assertEqual(len(bad.exception.problems), 2)
        with self.assertRaises(Invalid):
            total([])


if __name__ == "__main__":
    unittest.main()
