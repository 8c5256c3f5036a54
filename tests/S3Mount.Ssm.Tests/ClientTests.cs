using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Threading;
using System.Threading.Tasks;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Ssm;
using S3Mount.FakeSsm;

namespace S3Mount.Ssm.Tests;

public class ClientTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    [Theory]
    [InlineData("com.amazonaws.ssm#InvalidInstanceId", "InvalidInstanceId")]
    [InlineData("InvalidInstanceId", "InvalidInstanceId")]
    [InlineData("com.amazon.coral.service#AccessDeniedException:http://internal.amazon.com/coral/", "AccessDeniedException")]
    [InlineData("ThrottlingException:extra", "ThrottlingException")]
    public void ErrorCodeTakesThePartAfterHashAndBeforeColon(string type, string code) =>
        Assert.Equal(code, SsmHttpClient.ErrorCodeFromType(type));

    [Theory]
    [InlineData(400, "{\"__type\":\"com.amazonaws.ssm#InvalidInstanceId\",\"Message\":\"Instances not in a valid state\"}", "SsmInvalidInstanceId", S3MountErrorKind.ObjectNotFound, "Instances not in a valid state")]
    [InlineData(400, "{\"__type\":\"AccessDeniedException\",\"message\":\"User is not authorized\"}", "SsmAccessDenied", S3MountErrorKind.PermissionDenied, "User is not authorized")]
    [InlineData(400, "{\"__type\":\"UnrecognizedClientException\",\"message\":\"bad token\"}", "SsmAccessDenied", S3MountErrorKind.PermissionDenied, "bad token")]
    [InlineData(400, "{\"__type\":\"InvocationDoesNotExist\"}", "SsmInvocationDoesNotExist", S3MountErrorKind.ObjectNotFound, "InvocationDoesNotExist")]
    [InlineData(400, "{\"__type\":\"com.amazonaws.ssm#InvalidCommandId\"}", "SsmInvalidCommandId", S3MountErrorKind.ObjectNotFound, "InvalidCommandId")]
    [InlineData(400, "{\"__type\":\"ValidationException\",\"message\":\"1 validation error\"}", "SsmValidation", S3MountErrorKind.InvalidArgument, "1 validation error")]
    [InlineData(400, "{\"__type\":\"SomethingNew\",\"message\":\"eh\"}", "SsmApiError", S3MountErrorKind.InvalidOperation, "eh")]
    [InlineData(403, "not json at all", "SsmApiError", S3MountErrorKind.InvalidOperation, "not json at all")]
    public async Task ErrorsMapToStableIds(int status, string body, string errorId, S3MountErrorKind kind, string messagePart)
    {
        var h = new RecordingHandler();
        h.Answers.Enqueue(((HttpStatusCode)status, body));
        using var c = Ssm.Client(h);
        var ex = await Assert.ThrowsAnyAsync<SsmServiceException>(() => c.ListCommandsAsync(new ListCommandsRequest(), Ct));
        Assert.Equal(errorId, ex.ErrorId);
        Assert.Equal(kind, ex.Kind);
        Assert.Contains(messagePart, ex.Message);
        Assert.Single(h.Requests);
    }

    [Fact]
    public async Task InvocationDoesNotExistHasItsOwnType()
    {
        var h = new RecordingHandler();
        h.Answers.Enqueue((HttpStatusCode.BadRequest, "{\"__type\":\"com.amazonaws.ssm#InvocationDoesNotExist\"}"));
        using var c = Ssm.Client(h);
        await Assert.ThrowsAsync<SsmInvocationDoesNotExistException>(() => c.GetCommandInvocationAsync(new GetCommandInvocationRequest { CommandId = Guid.NewGuid().ToString(), InstanceId = Ssm.Id(1) }, Ct));
    }

    [Theory]
    [InlineData(400, "ThrottlingException")]
    [InlineData(400, "Throttling")]
    [InlineData(400, "TooManyRequestsException")]
    [InlineData(400, "RequestLimitExceeded")]
    [InlineData(500, "InternalServerError")]
    [InlineData(502, "")]
    [InlineData(503, "ServiceUnavailable")]
    [InlineData(504, "")]
    public async Task TransientErrorsAreRetriedThreeAttemptsInAll(int status, string type)
    {
        var h = new RecordingHandler { Default = _ => ((HttpStatusCode)status, type.Length == 0 ? string.Empty : "{\"__type\":\"" + type + "\",\"message\":\"Rate exceeded\"}") };
        var delays = new List<TimeSpan>();
        var retry = new SsmRetryPolicy { Delay = (d, _) => { delays.Add(d); return Task.CompletedTask; }, Random = () => 0.999999 };
        using var c = Ssm.Client(h, retry);
        var ex = await Assert.ThrowsAnyAsync<SsmServiceException>(() => c.ListCommandsAsync(new ListCommandsRequest(), Ct));
        Assert.True(ex.IsTransient);
        Assert.Equal(3, h.Requests.Count);
        Assert.Equal(2, delays.Count);
        Assert.InRange(delays[0].TotalSeconds, 1.99, 2.0);
        Assert.InRange(delays[1].TotalSeconds, 3.99, 4.0);
        if (type.Contains("Throttl") || type.Contains("Request"))
        {
            Assert.IsType<SsmThrottledException>(ex);
            Assert.Equal(SsmErrorIds.SsmThrottled, ex.ErrorId);
        }
    }

    [Fact]
    public async Task ASuccessAfterAThrottleIsReturned()
    {
        var h = new RecordingHandler();
        h.Answers.Enqueue((HttpStatusCode.BadRequest, "{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}"));
        h.Answers.Enqueue((HttpStatusCode.ServiceUnavailable, string.Empty));
        h.Answers.Enqueue((HttpStatusCode.OK, "{\"Commands\":[{\"CommandId\":\"x\",\"RequestedDateTime\":1.7E9,\"TargetCount\":3}],\"NextToken\":\"n\"}"));
        using var c = Ssm.Client(h);
        var r = await c.ListCommandsAsync(new ListCommandsRequest(), Ct);
        Assert.Equal(3, h.Requests.Count);
        Assert.Equal(3, r.Commands[0].TargetCount);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), r.Commands[0].RequestedDateTime);
        Assert.Equal("n", r.NextToken);
    }

    [Fact]
    public async Task NonTransientErrorsAreNotRetried()
    {
        var h = new RecordingHandler { Default = _ => (HttpStatusCode.BadRequest, "{\"__type\":\"AccessDeniedException\",\"message\":\"no\"}") };
        using var c = Ssm.Client(h);
        await Assert.ThrowsAnyAsync<SsmServiceException>(() => c.ListCommandsAsync(new ListCommandsRequest(), Ct));
        Assert.Single(h.Requests);
    }

    [Fact]
    public void BackoffIsFullJitterBaseTwoCappedAtTwentySeconds()
    {
        var hi = new SsmRetryPolicy { Random = () => 0.999999 };
        var lo = new SsmRetryPolicy { Random = () => 0.0 };
        for (var retry = 1; retry <= 12; retry++)
        {
            var max = Math.Min(20, Math.Pow(2, retry));
            Assert.InRange(hi.ComputeDelay(retry).TotalSeconds, max * 0.999, max);
            Assert.Equal(TimeSpan.Zero, lo.ComputeDelay(retry));
        }

        var real = new SsmRetryPolicy();
        for (var i = 0; i < 1000; i++)
        {
            Assert.InRange(real.ComputeDelay(10).TotalSeconds, 0, 20);
        }

        Assert.Equal(3, real.MaxAttempts);
    }

    [Fact]
    public async Task CancellationStopsRetrying()
    {
        var h = new RecordingHandler { Default = _ => (HttpStatusCode.ServiceUnavailable, string.Empty) };
        using var cts = new CancellationTokenSource();
        var retry = new SsmRetryPolicy { Delay = (d, ct) => { cts.Cancel(); return Task.Delay(d, ct); }, Random = () => 0.5 };
        using var c = Ssm.Client(h, retry);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => c.ListCommandsAsync(new ListCommandsRequest(), cts.Token));
        Assert.Single(h.Requests);
    }

    [Fact]
    public async Task ResponsesParseEpochNumbersAndIsoStrings()
    {
        var h = new RecordingHandler();
        h.Answers.Enqueue((HttpStatusCode.OK, "{\"CommandInvocations\":[{\"CommandId\":\"c\",\"InstanceId\":\"i-1\",\"RequestedDateTime\":1700000000.5,\"Status\":\"Success\",\"CommandPlugins\":[{\"Name\":\"aws:runShellScript\",\"ResponseCode\":0,\"Output\":\"hi\",\"ResponseStartDateTime\":1700000001}]}]}"));
        h.Answers.Enqueue((HttpStatusCode.OK, "{\"ExecutionStartDateTime\":\"2024-05-01T10:00:00.123Z\",\"ResponseCode\":2,\"StandardOutputContent\":\"o\",\"Status\":\"Failed\"}"));
        h.Answers.Enqueue((HttpStatusCode.OK, "{\"InstanceInformationList\":[{\"InstanceId\":\"i-1\",\"PingStatus\":\"Online\",\"PlatformType\":\"Linux\",\"LastPingDateTime\":1700000000}]}"));
        using var c = Ssm.Client(h);
        var l = await c.ListCommandInvocationsAsync(new ListCommandInvocationsRequest { Details = true }, Ct);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_500), l.CommandInvocations[0].RequestedDateTime);
        Assert.Equal("hi", l.CommandInvocations[0].CommandPlugins[0].Output);
        var g = await c.GetCommandInvocationAsync(new GetCommandInvocationRequest { CommandId = "c", InstanceId = "i-1" }, Ct);
        Assert.Equal("2024-05-01T10:00:00.123Z", g.ExecutionStartDateTime);
        Assert.Equal(2, g.ResponseCode);
        var d = await c.DescribeInstanceInformationAsync(new DescribeInstanceInformationRequest(), Ct);
        Assert.Equal("Online", d.InstanceInformationList[0].PingStatus);
    }

    [Fact]
    public async Task RequestsAreSignedWithSigV4ForServiceSsm()
    {
        var h = new RecordingHandler();
        using var c = Ssm.Client(h);
        await c.ListCommandsAsync(new ListCommandsRequest(), Ct);
        var req = h.Requests.Single().Request;
        var auth = req.Headers.GetValues("Authorization").Single();
        Assert.Matches("^AWS4-HMAC-SHA256 Credential=" + Ssm.AccessKey + "/\\d{8}/us-east-1/ssm/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=[0-9a-f]{64}$", auth);
        Assert.Matches("^\\d{8}T\\d{6}Z$", req.Headers.GetValues("X-Amz-Date").Single());
        Assert.Equal("AmazonSSM.ListCommands", req.Headers.GetValues("X-Amz-Target").Single());
    }

    [Fact]
    public async Task TheFakeVerifiesOurSignatureInFullAndRejectsAWrongSecret()
    {
        using var fake = new FakeSsmServer(new FakeSsmOptions { SecretKeys = new Dictionary<string, string> { [Ssm.AccessKey] = Ssm.SecretKey } });
        using var good = Ssm.Client(fake.Endpoint);
        var r = await good.ListCommandsAsync(new ListCommandsRequest(), Ct);
        Assert.Empty(r.Commands);

        using var bad = new SsmHttpClient(ResolvedAwsSettings.FromKeys(Ssm.AccessKey, "wrong-secret", Ssm.Region, fake.Endpoint), new SsmClientOptions { Retry = SsmRetryPolicy.NoDelay() });
        var ex = await Assert.ThrowsAnyAsync<SsmServiceException>(() => bad.ListCommandsAsync(new ListCommandsRequest(), Ct));
        Assert.Equal(SsmErrorIds.SsmAccessDenied, ex.ErrorId);
        Assert.Equal("InvalidSignatureException", ex.ErrorCode);

        using var session = new SsmHttpClient(ResolvedAwsSettings.FromKeys(Ssm.AccessKey, Ssm.SecretKey, Ssm.Region, fake.Endpoint, sessionToken: "tok"), new SsmClientOptions { Retry = SsmRetryPolicy.NoDelay() });
        await session.ListCommandsAsync(new ListCommandsRequest(), Ct);
        Assert.Contains("x-amz-security-token", fake.Requests.Last().Authorization);

        using var wrongRegion = new SsmHttpClient(ResolvedAwsSettings.FromKeys(Ssm.AccessKey, Ssm.SecretKey, "eu-west-1", fake.Endpoint), new SsmClientOptions { Retry = SsmRetryPolicy.NoDelay() });
        await Assert.ThrowsAnyAsync<SsmServiceException>(() => wrongRegion.ListCommandsAsync(new ListCommandsRequest(), Ct));
    }

    [Fact]
    public async Task TheFakeAnswersInvalidRequestsWithValidationException()
    {
        using var fake = new FakeSsmServer();
        using var c = Ssm.Client(fake.Endpoint);
        var ex = await Assert.ThrowsAnyAsync<SsmServiceException>(() => c.SendCommandAsync(new SendCommandRequest { InstanceIds = new[] { "not-an-id" }, Parameters = new Dictionary<string, IReadOnlyList<string>> { ["commands"] = new[] { "true" } } }, Ct));
        Assert.Equal("ValidationException", ex.ErrorCode);
        Assert.Equal(SsmErrorIds.SsmValidation, ex.ErrorId);
        Assert.Equal(HttpStatusCode.BadRequest, ex.StatusCode);
    }

    [Fact]
    public void DefaultEndpointIsRegional() =>
        Assert.Equal("https://ssm.eu-central-1.amazonaws.com/", SsmHttpClient.DefaultEndpoint("eu-central-1").ToString());
}
