"""provenance_client.hashing against test/fixtures/hash-vectors.json and the corners of RFC 8785."""

import hashlib
import json
import os
import unittest

from provenance_client.hashing import (
    DEFAULT_VOLATILE_KEYS,
    canonical_json,
    definition_document,
    definition_hash,
    input_document,
    input_hash,
    output_hash,
)

_REPOSITORY_VECTORS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "test", "fixtures", "hash-vectors.json")


def load_vectors():
    with open(os.environ.get("PROVENANCE_HASH_VECTORS") or _REPOSITORY_VECTORS, encoding="utf-8") as file:
        return json.load(file)


class HashVectorsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.vectors = load_vectors()

    def test_the_default_volatile_keys_are_the_vectors(self):
        self.assertEqual(list(DEFAULT_VOLATILE_KEYS), self.vectors["volatileKeys"])

    def test_definition_vectors(self):
        volatile_keys = self.vectors["volatileKeys"]
        for vector in self.vectors["definition"]:
            with self.subTest(vector["name"]):
                payload = json.loads(vector["payloadJson"])
                document = definition_document(vector["type"], payload, volatile_keys)
                self.assertEqual(canonical_json(document), vector["canonical"])
                self.assertEqual(definition_hash(vector["type"], payload, volatile_keys), vector["sha256"])

    def test_input_vectors(self):
        for vector in self.vectors["input"]:
            with self.subTest(vector["name"]):
                parents = {parent["jobId"]: parent["outputHash"] for parent in vector["parents"]}
                self.assertEqual(canonical_json(input_document(vector["definitionHash"], parents)), vector["canonical"])
                self.assertEqual(input_hash(vector["definitionHash"], parents), vector["sha256"])

    def test_output_vectors(self):
        for vector in self.vectors["output"]:
            with self.subTest(vector["name"]):
                value = json.loads(vector["outputJson"])
                self.assertEqual(canonical_json(value), vector["canonical"])
                self.assertEqual(output_hash(value), vector["sha256"])

    def test_every_canonical_text_hashes_to_its_sha256(self):
        for group in ("definition", "input", "output"):
            for vector in self.vectors[group]:
                with self.subTest(f"{group}: {vector['name']}"):
                    self.assertEqual(hashlib.sha256(vector["canonical"].encode("utf-8")).hexdigest(), vector["sha256"])


class CanonicalJsonTest(unittest.TestCase):
    def test_numbers_are_written_as_ecmascript_writes_them(self):
        cases = {
            1.0: "1",
            -0.0: "0",
            0: "0",
            100: "100",
            1e21: "1e+21",
            1e20: "100000000000000000000",
            123456789012345680000.0: "123456789012345680000",
            1e-7: "1e-7",
            1e-6: "0.000001",
            1.5e-7: "1.5e-7",
            0.1: "0.1",
            0.1 + 0.2: "0.30000000000000004",
            -2.5: "-2.5",
            1.5e300: "1.5e+300",
            5e-324: "5e-324",
            1.7976931348623157e308: "1.7976931348623157e+308",
            2**53 + 1: "9007199254740992",
            123.456: "123.456",
            1234.5e-10: "1.2345e-7",
        }
        for number, text in cases.items():
            with self.subTest(number):
                self.assertEqual(canonical_json(number), text)

    def test_nan_and_infinities_are_refused(self):
        for number in (float("nan"), float("inf"), float("-inf")):
            with self.subTest(number), self.assertRaises(ValueError):
                canonical_json({"x": [number]})

    def test_keys_sort_by_utf16_code_units(self):
        # U+1F600 is the surrogate pair D83D DE00, which sorts before U+FB00 although its code point is larger.
        self.assertEqual(canonical_json({"\ufb00": 1, "\U0001f600": 2, "z": 3}), '{"z":3,"\U0001f600":2,"\ufb00":1}')

    def test_strings_escape_minimally(self):
        self.assertEqual(canonical_json('"\\/\b\f\n\r\t\x00\x1f\x7f é€😀'), '"\\"\\\\/\\b\\f\\n\\r\\t\\u0000\\u001f\x7f é€😀"')

    def test_lone_surrogates_are_escaped_like_json_stringify(self):
        self.assertEqual(canonical_json("a\ud800b"), '"a\\ud800b"')

    def test_literals_and_containers(self):
        self.assertEqual(canonical_json([True, False, None, [], {}, ("t",)]), '[true,false,null,[],{},["t"]]')

    def test_non_json_values_are_refused(self):
        for value in ({1: "x"}, {"x": object()}, {"x": b"bytes"}):
            with self.subTest(value), self.assertRaises(TypeError):
                canonical_json(value)


class DefinitionHashTest(unittest.TestCase):
    def test_volatile_keys_are_removed_at_any_depth_but_the_payload_is_left_alone(self):
        payload = {"a": [{"createdAt": 1, "b": 2}], "timestamp": "t"}
        self.assertEqual(definition_hash("t", payload), definition_hash("t", {"a": [{"b": 2}]}))
        self.assertEqual(payload, {"a": [{"createdAt": 1, "b": 2}], "timestamp": "t"})

    def test_other_volatile_keys_replace_the_defaults(self):
        self.assertEqual(definition_hash("t", {"seed": 1, "timestamp": 2}, ["seed"]), definition_hash("t", {"timestamp": 2}, []))
        self.assertNotEqual(definition_hash("t", {"timestamp": 2}, ["seed"]), definition_hash("t", {}))


if __name__ == "__main__":
    unittest.main()
