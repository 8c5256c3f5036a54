using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Reflection;
using System.Threading;
using System.Threading.Tasks;
using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.Endpoints;
using Amazon.Runtime.Internal;
using Amazon.SimpleSystemsManagement.Model;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Ssm;
using S3Mount.FakeSsm;

namespace S3Mount.Ssm.Tests;

/// <summary>The official SSM client as S3Mount configures it: error ids, retries, signing, endpoints.</summary>
public class ClientTests
{
    private static readonly CancellationToken Ct = CancellationToken.None;

    private static async Task<List<ListCommandsResponse>> ListAll(SsmClient c, CancellationToken ct = default)
    {
        var pages = new List<ListCommandsResponse>();
        await foreach (var p in c.ListCommandsAsync(new ListCommandsRequest(), ct))
        {
            pages.Add(p);
        }

        return pages;
    }

    [Theory]
    [InlineData(400, "{\"__type\":\"com.amazonaws.ssm#InvalidInstanceId\",\"Message\":\"Instances not in a valid state\"}", "SsmInvalidInstanceId", S3MountErrorKind.ObjectNotFound, "Instances not in a valid state")]
    [InlineData(400, "{\"__type\":\"AccessDeniedException\",\"message\":\"User is not authorized\"}", "SsmAccessDenied", S3MountErrorKind.PermissionDenied, "User is not authorized")]
    [InlineData(400, "{\"__type\":\"UnrecognizedClientException\",\"message\":\"bad token\"}", "SsmAccessDenied", S3MountErrorKind.PermissionDenied, "bad token")]
    [InlineData(400, "{\"__type\":\"com.amazonaws.ssm#InvalidCommandId\"}", "SsmInvalidCommandId", S3MountErrorKind.ObjectNotFound, "InvalidCommandId")]
    [InlineData(400, "{\"__type\":\"ValidationException\",\"message\":\"1 validation error\"}", "SsmValidation", S3MountErrorKind.InvalidArgument, "1 validation error")]
    [InlineData(400, "{\"__type\":\"com.amazon.coral.service#SomethingNew:http://internal/\",\"message\":\"eh\"}", "SsmApiError", S3MountErrorKind.InvalidOperation, "eh")]
    public async Task SdkErrorsMapToStableIds(int status, string body, string errorId, S3MountErrorKind kind, string messagePart)
    {
        using var server = new ScriptedServer { Default = _ => (status, body) };
        using var c = Ssm.Client(server.Endpoint);
        var ex = await Assert.ThrowsAnyAsync<SsmServiceException>(() => ListAll(c));
        Assert.Equal(errorId, ex.ErrorId);
        Assert.Equal(kind, ex.Kind);
        Assert.Contains(messagePart, ex.Message);
        Assert.IsAssignableFrom<AmazonServiceException>(ex.InnerException);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task InvocationDoesNotExistHasItsOwnType()
    {
        using var server = new ScriptedServer { Default = _ => (400, "{\"__type\":\"com.amazonaws.ssm#InvocationDoesNotExist\"}") };
        using var c = Ssm.Client(server.Endpoint);
        var ex = await Assert.ThrowsAsync<SsmInvocationDoesNotExistException>(() => c.GetCommandInvocationAsync(new GetCommandInvocationRequest { CommandId = Guid.NewGuid().ToString(), InstanceId = Ssm.Id(1) }, Ct));
        Assert.Equal(Ssm.Id(1), ex.Target);
    }

    [Theory]
    [InlineData("ThrottlingException")]
    [InlineData("Throttling")]
    [InlineData("TooManyRequestsException")]
    public async Task ThrottlingIsLeftToTheFleetSoTheSdkSendsItOnce(string code)
    {
        using var server = new ScriptedServer { Default = _ => (400, "{\"__type\":\"" + code + "\",\"message\":\"Rate exceeded\"}") };
        using var c = Ssm.Client(server.Endpoint);
        var ex = await Assert.ThrowsAsync<SsmThrottledException>(() => c.SendCommandAsync(new SendCommandRequest { DocumentName = "AWS-RunShellScript", InstanceIds = new List<string> { Ssm.Id(1) } }, Ct));
        Assert.Equal(SsmErrorIds.SsmThrottled, ex.ErrorId);
        Assert.True(ex.IsTransient);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task WithTheSdkPolicyThrottlingIsRetriedThreeAttemptsInAll()
    {
        using var server = new ScriptedServer { Default = _ => (400, "{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}") };
        using var c = Ssm.Client(server.Endpoint, new SsmClientOptions { SdkRetriesThrottling = true });
        await Assert.ThrowsAsync<SsmThrottledException>(() => ListAll(c));
        Assert.Equal(3, server.Requests.Count);
    }

    [Theory]
    [InlineData(500, "{\"__type\":\"InternalServerError\",\"message\":\"oops\"}")]
    [InlineData(503, "")]
    public async Task ServerErrorsAreRetriedByTheSdkThreeAttemptsInAll(int status, string body)
    {
        using var server = new ScriptedServer { Default = _ => (status, body) };
        using var c = Ssm.Client(server.Endpoint);
        var ex = await Assert.ThrowsAnyAsync<SsmServiceException>(() => ListAll(c));
        Assert.Equal(SsmErrorIds.SsmServiceUnavailable, ex.ErrorId);
        Assert.True(ex.IsTransient);
        Assert.Equal(3, server.Requests.Count);
    }

    [Fact]
    public async Task ASuccessAfterAServerErrorIsReturned()
    {
        using var server = new ScriptedServer();
        server.Answers.Enqueue((503, string.Empty));
        server.Answers.Enqueue((200, "{\"Commands\":[{\"CommandId\":\"x\",\"RequestedDateTime\":1.7E9,\"TargetCount\":3}]}"));
        using var c = Ssm.Client(server.Endpoint);
        var pages = await ListAll(c);
        Assert.Equal(2, server.Requests.Count);
        Assert.Equal(3, pages.Single().Commands.Single().TargetCount);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000).UtcDateTime, pages.Single().Commands.Single().RequestedDateTime!.Value.ToUniversalTime());
    }

    [Fact]
    public async Task PagesFollowNextTokenAndAbsentListsAreNull()
    {
        using var server = new ScriptedServer();
        server.Answers.Enqueue((200, "{\"Commands\":[{\"CommandId\":\"a\"}],\"NextToken\":\"t1\"}"));
        server.Answers.Enqueue((200, "{\"NextToken\":\"t2\"}"));
        server.Answers.Enqueue((200, "{\"Commands\":[{\"CommandId\":\"b\"}]}"));
        using var c = Ssm.Client(server.Endpoint);
        var pages = await ListAll(c);
        Assert.Equal(3, pages.Count);
        Assert.Null(pages[1].Commands);
        Assert.Equal(new[] { "a", "b" }, pages.Where(p => p.Commands is not null).SelectMany(p => p.Commands).Select(x => x.CommandId));
        Assert.Contains("\"NextToken\":\"t2\"", System.Text.Encoding.UTF8.GetString(server.Requests.Last().Body));
    }

    [Fact]
    public async Task NonTransientErrorsAreNotRetried()
    {
        using var server = new ScriptedServer { Default = _ => (400, "{\"__type\":\"AccessDeniedException\",\"message\":\"no\"}") };
        using var c = Ssm.Client(server.Endpoint);
        await Assert.ThrowsAnyAsync<SsmServiceException>(() => ListAll(c));
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task CancellationIsTheCallersNotAnError()
    {
        using var fake = new FakeSsmServer(new FakeSsmOptions { ApiLatency = TimeSpan.FromSeconds(10) });
        using var c = Ssm.Client(fake.Endpoint);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var sw = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ListAll(c, cts.Token));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), sw.Elapsed.ToString());
    }

    [Fact]
    public async Task AnUnreachableEndpointIsSsmConnectionFailed()
    {
        var port = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        port.Start();
        var endpoint = new Uri("http://127.0.0.1:" + ((IPEndPoint)port.LocalEndpoint).Port + "/");
        port.Stop();
        using var c = Ssm.Client(endpoint);
        var ex = await Assert.ThrowsAnyAsync<SsmServiceException>(() => ListAll(c));
        Assert.Equal(SsmErrorIds.SsmConnectionFailed, ex.ErrorId);
        Assert.Equal(S3MountErrorKind.ConnectionError, ex.Kind);
    }

    [Fact]
    public async Task RequestsAreSignedWithSigV4ForServiceSsm()
    {
        using var server = new ScriptedServer();
        using var c = Ssm.Client(server.Endpoint);
        await ListAll(c);
        var req = server.Requests.Single();
        Assert.Matches("^AWS4-HMAC-SHA256 Credential=" + Ssm.AccessKey + "/\\d{8}/us-east-1/ssm/aws4_request, SignedHeaders=[a-z0-9;-]*host;[a-z0-9;-]*x-amz-target[a-z0-9;-]*, Signature=[0-9a-f]{64}$", req.Header("Authorization"));
        Assert.Matches("^\\d{8}T\\d{6}Z$", req.Header("X-Amz-Date"));
        Assert.Equal("AmazonSSM.ListCommands", req.Header("X-Amz-Target"));
        Assert.StartsWith("application/x-amz-json-1.1", req.Header("Content-Type"));
        Assert.Equal("POST", req.Method);
    }

    [Fact]
    public async Task TheFakeVerifiesTheSdksSignatureInFullAndRejectsAWrongSecret()
    {
        using var fake = new FakeSsmServer(new FakeSsmOptions { SecretKeys = new Dictionary<string, string> { [Ssm.AccessKey] = Ssm.SecretKey } });
        using var good = Ssm.Client(fake.Endpoint);
        Assert.Empty((await ListAll(good)).Single().Commands ?? new List<Command>());

        using var bad = new SsmClient(ResolvedAwsSettings.FromKeys(Ssm.AccessKey, "wrong-secret", Ssm.Region, fake.Endpoint));
        var ex = await Assert.ThrowsAnyAsync<SsmServiceException>(() => ListAll(bad));
        Assert.Equal(SsmErrorIds.SsmAccessDenied, ex.ErrorId);
        Assert.Equal("InvalidSignatureException", ex.ErrorCode);

        using var session = new SsmClient(ResolvedAwsSettings.FromKeys(Ssm.AccessKey, Ssm.SecretKey, Ssm.Region, fake.Endpoint, sessionToken: "tok"));
        await ListAll(session);
        Assert.Contains("x-amz-security-token", fake.Requests.Last().Authorization);

        using var wrongRegion = new SsmClient(ResolvedAwsSettings.FromKeys(Ssm.AccessKey, Ssm.SecretKey, "eu-west-1", fake.Endpoint));
        await Assert.ThrowsAnyAsync<SsmServiceException>(() => ListAll(wrongRegion));
    }

    [Fact]
    public async Task TheFakeAnswersInvalidRequestsWithValidationException()
    {
        using var fake = new FakeSsmServer();
        using var c = Ssm.Client(fake.Endpoint);
        var ex = await Assert.ThrowsAnyAsync<SsmServiceException>(() => c.SendCommandAsync(new SendCommandRequest
        {
            DocumentName = "AWS-RunShellScript",
            InstanceIds = new List<string> { "not-an-id" },
            Parameters = new Dictionary<string, List<string>> { ["commands"] = new() { "true" } },
        }, Ct));
        Assert.Equal("ValidationException", ex.ErrorCode);
        Assert.Equal(SsmErrorIds.SsmValidation, ex.ErrorId);
        Assert.Equal(HttpStatusCode.BadRequest, ex.StatusCode);
    }

    [Fact]
    public void RetrySettingsAreSetInCodeStandardModeNoSharedBudget()
    {
        using var c = Ssm.Client(new Uri("http://127.0.0.1:1/"));
        Assert.Equal(RequestRetryMode.Standard, c.Config.RetryMode);
        Assert.Equal(2, c.Config.MaxErrorRetry);
        Assert.True(c.Config.IsMaxErrorRetrySet);
        Assert.False(c.Config.ThrottleRetries);
        Assert.Equal(TimeSpan.FromSeconds(30), c.Config.Timeout);

        // The pipeline's retry handler is standard mode without throttling (the fleet paces throttling).
        var pipeline = (RuntimePipeline)typeof(AmazonServiceClient).GetProperty("RuntimePipeline", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(c.Sdk)!;
        var retry = pipeline.Handlers.OfType<RetryHandler>().Single().RetryPolicy;
        Assert.IsAssignableFrom<StandardRetryPolicy>(retry);
        Assert.Equal(2, retry.MaxRetries);
        Assert.Null(typeof(RetryPolicy).GetProperty("RetryCapacity", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)!.GetValue(retry));

        using var sdkPolicy = Ssm.Client(new Uri("http://127.0.0.1:1/"), new SsmClientOptions { SdkRetriesThrottling = true });
        Assert.True(sdkPolicy.Config.ThrottleRetries);

        // Windows PowerShell's .NET Framework allows 2 connections per host unless raised; .NET (PowerShell 7) has no such limit.
        Assert.Null(c.Config.MaxConnectionsPerServer);
        Assert.Equal(64, SsmClient.NetFrameworkConnectionsPerServer);
    }

    [Theory]
    [InlineData("eu-central-1", false, false, "https://ssm.eu-central-1.amazonaws.com")]
    [InlineData("cn-north-1", false, false, "https://ssm.cn-north-1.amazonaws.com.cn")]
    [InlineData("us-gov-west-1", false, false, "https://ssm.us-gov-west-1.amazonaws.com")]
    [InlineData("us-iso-east-1", false, false, "https://ssm.us-iso-east-1.c2s.ic.gov")]
    [InlineData("us-east-1", true, false, "https://ssm-fips.us-east-1.amazonaws.com")]
    [InlineData("us-east-1", false, true, "https://ssm.us-east-1.api.aws")]
    public void EndpointsAreTheSdksForEveryPartitionFipsAndDualStack(string region, bool fips, bool dualStack, string url)
    {
        var settings = new ResolvedAwsSettings(new BasicAWSCredentials("a", "b"), region, "test", "test", null) { UseFipsEndpoint = fips, UseDualstackEndpoint = dualStack };
        var config = SsmClient.CreateConfig(settings, new SsmClientOptions());
        var endpoint = config.DetermineServiceOperationEndpoint(new ServiceOperationEndpointParameters(new ListCommandsRequest()));
        Assert.Equal(url, endpoint.URL.TrimEnd('/'));
    }

    [Fact]
    public void AnEndpointOverrideReachesVpcEndpointsAndFakesAndSignsForTheRegion()
    {
        var settings = ResolvedAwsSettings.FromKeys("a", "b", "eu-west-3", new Uri("https://vpce-0abc.ssm.eu-west-3.vpce.amazonaws.com/"));
        var config = SsmClient.CreateConfig(settings, new SsmClientOptions());
        Assert.Equal("https://vpce-0abc.ssm.eu-west-3.vpce.amazonaws.com/", config.ServiceURL);
        Assert.Equal("eu-west-3", config.AuthenticationRegion);
    }
}
