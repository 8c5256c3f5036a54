using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json.Nodes;
using System.Threading;
using System.Threading.Tasks;
using Amazon.SimpleSystemsManagement.Model;
using S3Mount.Engine.Fleet;
using S3Mount.Engine.Ssm;
using S3Mount.FakeSsm;

namespace S3Mount.Ssm.Tests;

/// <summary>Every request body the client can produce conforms to botocore's model.</summary>
public class SchemaRequestTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Fact]
    public void ModelFileIsFoundBesideTheRepository()
    {
        var path = SsmSchema.FindModelFile();
        Assert.EndsWith("ssm-2014-11-06.subset.json", path);
        Assert.Contains("SendCommand", SsmSchema.Default.Operations);
    }

    [Fact]
    public void ValidatorRejectsWhatTheModelForbids()
    {
        var s = SsmSchema.Default;
        Assert.NotEmpty(s.ValidateInput("SendCommand", JsonNode.Parse("{}")));                                      // required DocumentName
        Assert.NotEmpty(s.ValidateInput("SendCommand", JsonNode.Parse("{\"DocumentName\":\"AWS-RunShellScript\",\"InstanceIds\":[\"bogus\"]}")));  // pattern
        Assert.NotEmpty(s.ValidateInput("SendCommand", JsonNode.Parse("{\"DocumentName\":\"AWS-RunShellScript\",\"TimeoutSeconds\":5}")));          // min
        Assert.NotEmpty(s.ValidateInput("SendCommand", JsonNode.Parse("{\"DocumentName\":\"AWS-RunShellScript\",\"TimeoutSeconds\":\"60\"}")));     // type
        Assert.NotEmpty(s.ValidateInput("SendCommand", JsonNode.Parse("{\"DocumentName\":\"AWS-RunShellScript\",\"MaxConcurrency\":\"0\"}")));      // pattern
        Assert.NotEmpty(s.ValidateInput("SendCommand", JsonNode.Parse("{\"DocumentName\":\"AWS-RunShellScript\",\"Parameters\":{\"commands\":\"x\"}}"))); // map value type
        Assert.NotEmpty(s.ValidateInput("SendCommand", JsonNode.Parse("{\"DocumentName\":\"AWS-RunShellScript\",\"Bogus\":1}")));                   // unknown member
        var ids = new JsonArray(Enumerable.Range(0, 51).Select(i => (JsonNode)JsonValue.Create(Ssm.Id(i))!).ToArray());
        Assert.NotEmpty(s.ValidateInput("SendCommand", new JsonObject { ["DocumentName"] = "AWS-RunShellScript", ["InstanceIds"] = ids })); // list max
        Assert.NotEmpty(s.ValidateInput("ListCommandInvocations", JsonNode.Parse("{\"MaxResults\":51}")));
        Assert.NotEmpty(s.ValidateInput("DescribeInstanceInformation", JsonNode.Parse("{\"MaxResults\":4}")));
        Assert.NotEmpty(s.ValidateInput("ListCommands", JsonNode.Parse("{\"Filters\":[{\"key\":\"Nope\",\"value\":\"x\"}]}")));              // enum
        Assert.NotEmpty(s.ValidateInput("GetCommandInvocation", JsonNode.Parse("{\"CommandId\":\"short\",\"InstanceId\":\"i-0123456789abcdef0\"}")));
        Assert.Empty(s.ValidateInput("GetCommandInvocation", JsonNode.Parse("{\"CommandId\":\"" + Guid.NewGuid() + "\",\"InstanceId\":\"i-0123456789abcdef0\"}")));
    }

    public static IEnumerable<object?[]> SendVariants()
    {
        var ids = Enumerable.Range(1, 50).Select(Ssm.Id).ToList();
        yield return new object?[] { new SendCommandRequest { DocumentName = FleetRunner.DocumentName, InstanceIds = ids.Take(1).ToList(), Parameters = P("echo hi") } };
        yield return new object?[] { new SendCommandRequest { DocumentName = FleetRunner.DocumentName, InstanceIds = ids, Parameters = P("echo hi"), MaxConcurrency = "50", MaxErrors = "0" } };
        yield return new object?[] { new SendCommandRequest { DocumentName = FleetRunner.DocumentName, InstanceIds = ids, Parameters = P("x"), MaxConcurrency = "10%", MaxErrors = "100%", TimeoutSeconds = 30 } };
        yield return new object?[] { new SendCommandRequest { DocumentName = FleetRunner.DocumentName, InstanceIds = ids, Parameters = P("x"), TimeoutSeconds = 2592000, Comment = new string('c', 100), OutputS3BucketName = "my-bucket", OutputS3KeyPrefix = "ssm/out", OutputS3Region = "eu-west-1" } };
        yield return new object?[] { new SendCommandRequest { DocumentName = FleetRunner.DocumentName, Targets = new List<Target> { T("tag:Role", "web", "api"), T("tag-key", "Env"), new() { Key = "InstanceIds", Values = ids }, T("resource-groups:Name", "g"), T("tag:Name", "n") }, Parameters = P("x"), MaxConcurrency = "100%", MaxErrors = "5" } };
        yield return new object?[] { new SendCommandRequest { DocumentName = FleetRunner.DocumentName, InstanceIds = ids.Take(3).ToList(), DocumentVersion = "$LATEST", Parameters = new Dictionary<string, List<string>> { ["commands"] = ScriptEncoding.ToCommands("echo 'quoted' \"x\"\n").ToList(), ["executionTimeout"] = new() { "172800" }, ["workingDirectory"] = new() { "/tmp" } } } };
    }

    private static Target T(string key, params string[] values) => new() { Key = key, Values = values.ToList() };

    private static Dictionary<string, List<string>> P(string script) =>
        new() { ["commands"] = ScriptEncoding.ToCommands(script).ToList() };

    [Theory]
    [MemberData(nameof(SendVariants))]
    public async Task SendCommandBodiesConform(SendCommandRequest request)
    {
        using var server = new ScriptedServer { Default = _ => (200, "{\"Command\":{\"CommandId\":\"" + Guid.NewGuid() + "\"}}") };
        using var c = Ssm.Client(server.Endpoint);
        await c.SendCommandAsync(request, Ct);
        AssertConforms("SendCommand", server);
    }

    private static async Task Drain<T>(IAsyncEnumerable<T> pages)
    {
        await foreach (var _ in pages)
        {
        }
    }

    [Fact]
    public async Task EveryOtherOperationAndOptionConforms()
    {
        using var server = new ScriptedServer();
        using var c = Ssm.Client(server.Endpoint);
        var cid = Guid.NewGuid().ToString();
        List<CommandFilter> Filters() => new()
        {
            new() { Key = "InvokedAfter", Value = "2024-01-01T00:00:00Z" }, new() { Key = "InvokedBefore", Value = "2030-01-01T00:00:00Z" },
            new() { Key = "Status", Value = "InProgress" }, new() { Key = "ExecutionStage", Value = "Executing" }, new() { Key = "DocumentName", Value = "AWS-RunShellScript" },
        };
        await Drain(c.ListCommandInvocationsAsync(new ListCommandInvocationsRequest { CommandId = cid, Details = true, MaxResults = 50 }, Ct));
        await Drain(c.ListCommandInvocationsAsync(new ListCommandInvocationsRequest { CommandId = cid, MaxResults = 1, NextToken = "abc" }, Ct));
        await Drain(c.ListCommandInvocationsAsync(new ListCommandInvocationsRequest { InstanceId = Ssm.Id(1), Filters = Filters() }, Ct));
        await Drain(c.ListCommandInvocationsAsync(new ListCommandInvocationsRequest(), Ct));
        await c.GetCommandInvocationAsync(new GetCommandInvocationRequest { CommandId = cid, InstanceId = Ssm.Id(2) }, Ct);
        await c.GetCommandInvocationAsync(new GetCommandInvocationRequest { CommandId = cid, InstanceId = "mi-0123456789abcdef0", PluginName = "aws:runShellScript" }, Ct);
        await c.CancelCommandAsync(new CancelCommandRequest { CommandId = cid }, Ct);
        await c.CancelCommandAsync(new CancelCommandRequest { CommandId = cid, InstanceIds = Enumerable.Range(1, 50).Select(Ssm.Id).ToList() }, Ct);
        await Drain(c.DescribeInstanceInformationAsync(new DescribeInstanceInformationRequest(), Ct));
        await Drain(c.DescribeInstanceInformationAsync(new DescribeInstanceInformationRequest { Filters = new() { new() { Key = "InstanceIds", Values = Enumerable.Range(1, 50).Select(Ssm.Id).ToList() }, new() { Key = "tag:Role", Values = new() { "web" } } }, MaxResults = 50, NextToken = "t" }, Ct));
        await Drain(c.DescribeInstanceInformationAsync(new DescribeInstanceInformationRequest { InstanceInformationFilterList = new() { new() { Key = "InstanceIds", ValueSet = new() { Ssm.Id(1) } }, new() { Key = "PingStatus", ValueSet = new() { "Online" } }, new() { Key = "PlatformTypes", ValueSet = new() { "Linux" } } }, MaxResults = 5 }, Ct));
        await Drain(c.ListCommandsAsync(new ListCommandsRequest(), Ct));
        await Drain(c.ListCommandsAsync(new ListCommandsRequest { CommandId = cid, MaxResults = 50, NextToken = "n" }, Ct));
        await Drain(c.ListCommandsAsync(new ListCommandsRequest { InstanceId = Ssm.Id(3), Filters = Filters() }, Ct));
        Assert.Equal(14, server.Requests.Count);
        foreach (var req in server.Requests)
        {
            var op = req.Header("X-Amz-Target")!.Substring("AmazonSSM.".Length);
            var errors = SsmSchema.Default.ValidateInput(op, JsonNode.Parse(req.Body));
            Assert.True(errors.Count == 0, op + ": " + string.Join("\n", errors));
            Assert.StartsWith("application/x-amz-json-1.1", req.Header("Content-Type"));
            Assert.Equal("POST", req.Method);
            Assert.Equal("/", req.Path);
        }
    }

    [Fact]
    public async Task FleetRunnerRequestsConformForEveryOption()
    {
        // Through the fake (which validates every body with the same model and answers 400 otherwise).
        using var fake = new FakeSsmServer(new FakeSsmOptions { TimeoutScale = 0.001, OutputStore = new InMemoryOutputStore() });
        for (var i = 0; i < 60; i++)
        {
            fake.AddNode(new FakeNode(Ssm.Id(i), new SimulatedInstance { Latency = TimeSpan.FromMilliseconds(2) }) { Tags = new Dictionary<string, string> { ["Role"] = "web" } });
        }

        using var client = Ssm.Client(fake.Endpoint);
        var runner = new FleetRunner(client, null, FleetTests.FastOptions());
        var requests = new[]
        {
            new FleetRunRequest { Script = "echo hi", InstanceIds = Enumerable.Range(0, 60).Select(Ssm.Id).ToList() },
            new FleetRunRequest { Script = "echo hi", InstanceIds = Enumerable.Range(0, 60).Select(Ssm.Id).ToList(), MaxConcurrency = "10%", MaxErrors = "5%", DeliveryTimeoutSeconds = 30, ExecutionTimeoutSeconds = 600, Comment = "S3Mount test", OutputS3BucketName = "out-bucket", OutputS3KeyPrefix = "p/q", OutputS3Region = "us-east-1", WorkingDirectory = "/" },
            new FleetRunRequest { Script = "echo hi", InstanceIds = new[] { Ssm.Id(1) }, MaxConcurrency = "1", MaxErrors = "0" },
            new FleetRunRequest { Script = "echo hi", Targets = new[] { new SsmTarget("tag:Role", new[] { "web" }) }, MaxConcurrency = "20", MaxErrors = "1" },
        };
        foreach (var r in requests)
        {
            var results = new List<FleetNodeResult<string>>();
            await runner.RunAsync(r, o => o.Stdout, new DelegateFleetSink<string>(x => { lock (results) { results.Add(x); } }), Ct);
            Assert.All(results, x => Assert.True(x.IsSuccess, x.ToString()));
        }

        Assert.All(fake.Requests, rec => Assert.Empty(SsmSchema.Default.ValidateInput(rec.Operation, JsonNode.Parse(rec.Body))));
        Assert.Contains(fake.Requests, r => r.Operation == "ListCommands");
    }

    private static void AssertConforms(string operation, ScriptedServer server)
    {
        var req = Assert.Single(server.Requests);
        Assert.Equal("AmazonSSM." + operation, req.Header("X-Amz-Target"));
        var errors = SsmSchema.Default.ValidateInput(operation, JsonNode.Parse(req.Body));
        Assert.True(errors.Count == 0, string.Join("\n", errors));
    }
}
