"""The shared client scenario (docs/clients-scenario.md), when the test of the clients asks for it."""

import json
import os
import unittest

from scenario import scenario_from_environment

OUTPUT = os.environ.get("PROVENANCE_SCENARIO_OUTPUT")


@unittest.skipUnless(OUTPUT, "PROVENANCE_SCENARIO_OUTPUT is not set: the shared scenario runs when test/e2e/clients.test.ts asks for it")
class SharedScenarioTest(unittest.TestCase):
    def test_scenario(self):
        result = scenario_from_environment()
        # Written before any check: the test of the clients compares it with the other languages' output.
        with open(OUTPUT, "w", encoding="utf-8") as file:
            json.dump(result, file, indent=2)

        with open(os.environ["PROVENANCE_HASH_VECTORS"], encoding="utf-8") as file:
            vectors = json.load(file)
        expected_hashes = [{"name": vector["name"], "sha256": vector["sha256"]} for vector in vectors["definition"]]
        self.assertEqual(result["vectorHashes"], expected_hashes)
        self.assertEqual(result["lineage"], {"nodes": [["a", 1], ["b", 1]], "edges": [["a", "b"], ["a", "c"], ["b", "c"]]})
        self.assertEqual(
            result["events"],
            ["compute.job.submitted", "job.provenance.created", "compute.job.started", "compute.job.completed", "job.provenance.completed"],
        )
        self.assertEqual(result["finalStatus"], "JOB_STATUS_SUCCEEDED")
        self.assertEqual((result["reproducible"], result["issues"]), (True, []))
        self.assertTrue(result["definitionHashMatches"])


if __name__ == "__main__":
    unittest.main()
