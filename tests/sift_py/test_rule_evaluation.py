"""Rules evaluated over stored data through sift_py's own services: `preview_against_run` and
`evaluate_against_run` find the ranges the live rule annotated, a report template's rules run
over a run and `wait_until_done` sees the report finished, and external rules from YAML are
created and evaluated."""

from __future__ import annotations

from sift.annotations.v1.annotations_pb2 import ListAnnotationsRequest
from sift.annotations.v1.annotations_pb2_grpc import AnnotationServiceStub
from sift.reports.v1.reports_pb2 import REPORT_RULE_STATUS_ERROR, REPORT_RULE_STATUS_FINISHED
from sift.rules.v1.rules_pb2 import GetRuleRequest
from sift.rules.v1.rules_pb2_grpc import RuleServiceStub
from sift_py.grpc.transport import use_sift_channel
from sift_py.ingestion.service import IngestionService
from sift_py.report_templates.config import ReportTemplateConfig
from sift_py.report_templates.service import ReportTemplateService
from sift_py.rule.service import RuleIdentifier
from sift_py.rule_evaluation.service import RuleEvaluationService

from support import channel_config
from test_rules import (
    EXPECTED_RANGES,
    RULE_KEY,
    TEMPERATURES,
    annotations,
    as_ns,
    ns,
    prepare_people,
    reading,
    telemetry_config,
    wait_for,
)


def ranges(items):
    return sorted((as_ns(a.start_time), as_ns(a.end_time)) for a in items)


EXPECTED = [(ns(a), ns(b)) for a, b in EXPECTED_RANGES]


def test_evaluating_and_previewing_agree_with_the_live_rule(sextant, tmp_path):
    with use_sift_channel(channel_config(sextant)) as channel:
        prepare_people(sextant, channel)
        service = IngestionService(channel, telemetry_config())
        service.attach_run(channel, "hot fire 7")
        run_id = service.run_id
        service.try_ingest_flows(*[reading(i, v) for i, v in enumerate(TEMPERATURES)])
        rule = RuleServiceStub(channel).GetRule(GetRuleRequest(client_key=RULE_KEY)).rule

        def closed_twice():
            found = annotations(channel, rule.rule_id)
            if len(found) == 2 and all(a.HasField("end_time") for a in found):
                return found
            return None

        live = wait_for("the live rule's two annotations", closed_twice)
        assert ranges(live) == EXPECTED

        evaluation = RuleEvaluationService(channel)
        ids = [RuleIdentifier(rule.rule_id, rule.name)]
        preview = evaluation.preview_against_run(run_id, ids)
        assert ranges(preview.dry_run_annotations) == EXPECTED
        assert {a.condition_id for a in preview.dry_run_annotations} == {rule.rule_id}
        assert len(annotations(channel, rule.rule_id)) == 2, "a preview records nothing"

        # RuleService's older EvaluateRules, as a dry run, finds the same.
        from sift.rules.v1.rules_pb2 import EvaluateRulesRequest

        older = RuleServiceStub(channel).EvaluateRules(
            EvaluateRulesRequest(rule_ids=[rule.rule_id], run_id=run_id, dry_run=True)
        )
        assert ranges(older.dry_run_annotations) == EXPECTED

        # A narrower range finds only what lies in it.
        narrow = evaluation.preview_against_run(run_id, ids, start_time=ns(6) / 1e9, end_time=ns(9) / 1e9)
        assert ranges(narrow.dry_run_annotations) == [EXPECTED[1]]

        report = evaluation.evaluate_against_run(run_id, ids, report_name="post-test review")
        assert report.wait_until_done(timeout=10)
        results = report.get_results()
        assert (results.name, results.run_id) == ("post-test review", run_id)
        assert [(s.rule_id, s.num_open, s.status) for s in results.summaries] == [
            (rule.rule_id, 2, REPORT_RULE_STATUS_FINISHED)
        ]
        found = annotations(channel, rule.rule_id)
        evaluated = [a for a in found if a.annotation_id not in {l.annotation_id for l in live}]
        assert ranges(evaluated) == EXPECTED
        assert all(a.run_id == run_id for a in evaluated)
        assert all(set(a.tags) == {"warning", "thruster"} for a in evaluated)

        # A report template of the rule, run over the run.
        templates = ReportTemplateService(channel)
        templates.create_or_update_report_template(
            ReportTemplateConfig(name="thermal", template_client_key="thermal", rule_client_keys=[RULE_KEY])
        )
        template = templates.get_report_template(client_key="thermal")
        assert template.rule_client_keys == [RULE_KEY]
        report = evaluation.evaluate_against_run(run_id, template)
        assert report.wait_until_done(timeout=10)
        results = report.get_results()
        assert results.report_template_id == template.template_id
        assert [s.num_open for s in results.summaries] == [2]

        # External rules from YAML: created (not live), then evaluated over the run.
        path = tmp_path / "external.yml"
        path.write_text(
            "rules:\n"
            "  - name: very hot\n"
            "    description: above 420\n"
            "    expression: $1 > 420\n"
            "    type: phase\n"
            "    channel_references:\n"
            "      - $1: thruster.temperature\n"
            "    asset_names: [NostromoLV426]\n"
            "  - name: missing channel\n"
            "    expression: $1 > 0\n"
            "    type: phase\n"
            "    channel_references:\n"
            "      - $1: thruster.pressure\n"
            "    asset_names: [NostromoLV426]\n"
        )
        try:
            evaluation.evaluate_external_rules_from_yaml(run_id, [path])
            raise AssertionError("a rule over a channel the asset lacks was accepted")
        except Exception as err:
            assert "thruster.pressure" in str(err), err
        path.write_text("\n".join(path.read_text().splitlines()[:8]) + "\n")
        report = evaluation.evaluate_external_rules_from_yaml(run_id, [path])
        assert report.wait_until_done(timeout=10)
        results = report.get_results()
        assert [(s.num_open, s.status) for s in results.summaries] == [(1, REPORT_RULE_STATUS_FINISHED)]
        external = RuleServiceStub(channel).GetRule(GetRuleRequest(rule_id=results.summaries[0].rule_id)).rule
        assert external.is_external and not external.is_live_evaluation_enabled
        phase = AnnotationServiceStub(channel).ListAnnotations(
            ListAnnotationsRequest(filter=f'created_by_condition_id == "{external.rule_id}"')
        ).annotations
        assert ranges(phase) == [(ns(3), ns(4))]
        assert REPORT_RULE_STATUS_ERROR != REPORT_RULE_STATUS_FINISHED


def test_an_unknown_assignee_is_created_on_first_reference(sextant_process):
    from sift.users.v2.users_pb2 import ListActiveUsersRequest
    from sift.users.v2.users_pb2_grpc import UserServiceStub
    from sift_py.rule.service import RuleService

    from support import config_with_key
    from test_rules import RIPLEY

    sextant = sextant_process.info
    # A key that may only read looks the address up and creates nobody.
    reader = sextant_process.create_key("read")
    with use_sift_channel(config_with_key(sextant, reader)) as channel:
        users = UserServiceStub(channel)
        lookup = ListActiveUsersRequest(filter=f"name=='{RIPLEY}'")
        assert list(users.ListActiveUsers(lookup).users) == []
        assert list(users.ListActiveUsers(ListActiveUsersRequest()).users) == []
    # The seed's quickstart as written: Ripley is created when the rule names her.
    with use_sift_channel(channel_config(sextant)) as channel:
        IngestionService(channel, telemetry_config())
        users = UserServiceStub(channel).ListActiveUsers(ListActiveUsersRequest()).users
        assert [u.user_name for u in users] == [RIPLEY]
        rule = RuleService(channel).get_rule(RULE_KEY)
        # sift_py reads the assignee back as the user's id.
        assert rule.action.assignee == users[0].user_id
