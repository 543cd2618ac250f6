"""Keyword fields to request messages (the errors name what the caller wrote), and every google.rpc detail decoded."""

import datetime
import unittest

import grpc
from google.protobuf import duration_pb2

from provenance_client import PreconditionViolation, ResourceInfo, status_details
from provenance_client.requests import build_request

from google.rpc import error_details_pb2, status_pb2
from provenance.v1 import job_pb2, provenance_service_pb2


class BuildRequestTest(unittest.TestCase):
    def test_takes_python_field_names_with_json_values(self):
        request = build_request(
            "record_job()",
            provenance_service_pb2.RecordJobRequest,
            dict(job_id="j", parent_job_ids=["p"], status="SUCCEEDED", payload={"n": 1}, start_time=datetime.datetime(2026, 1, 1)),
        )
        self.assertEqual((request.job_id, list(request.parent_job_ids), request.status), ("j", ["p"], job_pb2.JOB_STATUS_SUCCEEDED))
        self.assertEqual((dict(request.payload), request.start_time.ToJsonString()), ({"n": 1}, "2026-01-01T00:00:00Z"))

    def test_refuses_an_unknown_keyword_and_the_json_name_naming_the_python_fields(self):
        for keyword in ("jobId", "parents"):
            with self.subTest(keyword=keyword), self.assertRaises(TypeError) as refused:
                build_request("record_job()", provenance_service_pb2.RecordJobRequest, {keyword: "x"})
            message = str(refused.exception)
            self.assertTrue(message.startswith(f"record_job() got an unexpected keyword argument '{keyword}'; its fields are "), message)
            self.assertIn("parent_job_ids", message)

    def test_refuses_a_value_of_the_wrong_kind_naming_its_keyword(self):
        for fields in (dict(parent_job_ids="p"), dict(status="NEARLY"), dict(attempt="x"), dict(provider={"nme": "x"})):
            (keyword,) = fields
            with self.subTest(keyword=keyword), self.assertRaises(ValueError) as refused:
                build_request("record_job()", provenance_service_pb2.RecordJobRequest, fields)
            self.assertTrue(str(refused.exception).startswith(f"record_job() argument '{keyword}': "), str(refused.exception))


class StatusDetailsTest(unittest.TestCase):
    def test_decodes_every_detail_the_service_sends(self):
        status = status_pb2.Status(code=grpc.StatusCode.FAILED_PRECONDITION.value[0], message="refused")
        status.details.add().Pack(error_details_pb2.ErrorInfo(reason="PARENT_NOT_FOUND", domain="provenance.v1", metadata={"k": "v"}))
        status.details.add().Pack(error_details_pb2.BadRequest(field_violations=[error_details_pb2.BadRequest.FieldViolation(field="type", description="required")]))
        status.details.add().Pack(
            error_details_pb2.PreconditionFailure(
                violations=[error_details_pb2.PreconditionFailure.Violation(type="PARENT_NOT_FOUND", subject="jobs/p", description="gone")]
            )
        )
        status.details.add().Pack(error_details_pb2.ResourceInfo(resource_type="provenance.v1.Job", resource_name="jobs/j"))
        status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=1, nanos=500_000_000)))
        details = status_details(status)
        self.assertEqual((details.code, details.message), (grpc.StatusCode.FAILED_PRECONDITION, "refused"))
        self.assertEqual((details.reason, details.domain, details.metadata), ("PARENT_NOT_FOUND", "provenance.v1", {"k": "v"}))
        self.assertEqual(details.field_violations, [("type", "required")])
        self.assertEqual(details.precondition_violations, [PreconditionViolation("PARENT_NOT_FOUND", "jobs/p", "gone")])
        self.assertEqual(details.resource_info, ResourceInfo("provenance.v1.Job", "jobs/j", "", ""))
        self.assertEqual(details.retry_delay, 1.5)

    def test_a_status_without_details_decodes_to_empty_ones(self):
        details = status_details(status_pb2.Status(code=0))
        self.assertEqual(details.code, grpc.StatusCode.OK)
        self.assertEqual((details.reason, details.field_violations, details.precondition_violations), ("", [], []))
        self.assertIsNone(details.resource_info)
        self.assertIsNone(details.retry_delay)


if __name__ == "__main__":
    unittest.main()
