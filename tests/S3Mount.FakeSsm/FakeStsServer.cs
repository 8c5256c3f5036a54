using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Security;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using System.Web;

namespace S3Mount.FakeSsm;

/// <summary>One AssumeRole or AssumeRoleWithWebIdentity the fake STS answered.</summary>
public sealed record FakeStsCall(string Action, string RoleArn, string? RoleSessionName, string? Authorization, string? WebIdentityToken, string AccessKeyIssued);

/// <summary>
/// STS on 127.0.0.1 for credential tests (the AWS Query protocol, XML answers): AssumeRole (SigV4-signed by the source
/// credentials) and AssumeRoleWithWebIdentity (unsigned, with a token) hand out temporary keys that the other fakes
/// can be told to trust. Point the SDK at it with <c>AWS_ENDPOINT_URL_STS</c>.
/// </summary>
public sealed class FakeStsServer : IDisposable
{
    public const string SecretKey = "fake/sts/issued/secret/key/000000000000";
    public const string SessionToken = "FakeStsSessionToken";
    private readonly LoopbackHttpServer _http;
    private int _issued;

    public FakeStsServer() => _http = new LoopbackHttpServer(HandleAsync);

    public Uri Endpoint => _http.Endpoint;

    public ConcurrentQueue<FakeStsCall> Calls { get; } = new();

    /// <summary>The access key the next answer hands out (<c>ASIAFAKESTS000000001</c>, ...).</summary>
    public static string IssuedKey(int n) => "ASIAFAKESTS" + n.ToString("D9", CultureInfo.InvariantCulture);

    private Task<FakeHttpResponse> HandleAsync(FakeHttpRequest request)
    {
        var form = HttpUtility.ParseQueryString(Encoding.UTF8.GetString(request.Body));
        var action = form["Action"] ?? string.Empty;
        var auth = request.Header("Authorization");
        if (request.Method != "POST" || (action != "AssumeRole" && action != "AssumeRoleWithWebIdentity"))
        {
            return Task.FromResult(Fault(400, "InvalidAction", "Could not find operation " + action));
        }

        if (action == "AssumeRole" && (auth is null || !auth.StartsWith("AWS4-HMAC-SHA256 Credential=", StringComparison.Ordinal) || !auth.Contains("/sts/aws4_request", StringComparison.Ordinal)))
        {
            return Task.FromResult(Fault(403, "MissingAuthenticationToken", "AssumeRole must be signed for sts."));
        }

        var roleArn = form["RoleArn"] ?? string.Empty;
        if (!roleArn.StartsWith("arn:aws:iam::", StringComparison.Ordinal))
        {
            return Task.FromResult(Fault(400, "ValidationError", "RoleArn is not an IAM role ARN."));
        }

        if (action == "AssumeRoleWithWebIdentity" && string.IsNullOrEmpty(form["WebIdentityToken"]))
        {
            return Task.FromResult(Fault(400, "InvalidIdentityToken", "No web identity token."));
        }

        var key = IssuedKey(Interlocked.Increment(ref _issued));
        var session = form["RoleSessionName"];
        Calls.Enqueue(new FakeStsCall(action, roleArn, session, auth, form["WebIdentityToken"], key));
        var expiration = DateTime.UtcNow.AddHours(1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
        var xml = "<" + action + "Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><" + action + "Result>" +
            "<Credentials><AccessKeyId>" + key + "</AccessKeyId><SecretAccessKey>" + SecretKey + "</SecretAccessKey>" +
            "<SessionToken>" + SessionToken + "</SessionToken><Expiration>" + expiration + "</Expiration></Credentials>" +
            "<AssumedRoleUser><Arn>" + SecurityElement.Escape(roleArn.Replace(":iam::", ":sts::").Replace(":role/", ":assumed-role/") + "/" + session) + "</Arn>" +
            "<AssumedRoleId>AROAFAKESTS:" + SecurityElement.Escape(session) + "</AssumedRoleId></AssumedRoleUser>" +
            "</" + action + "Result><ResponseMetadata><RequestId>" + Guid.NewGuid() + "</RequestId></ResponseMetadata></" + action + "Response>";
        return Task.FromResult(new FakeHttpResponse(200, "text/xml", Encoding.UTF8.GetBytes(xml)));
    }

    private static FakeHttpResponse Fault(int status, string code, string message) =>
        new(status, "text/xml", Encoding.UTF8.GetBytes(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>" + code + "</Code><Message>" +
            SecurityElement.Escape(message) + "</Message></Error><RequestId>" + Guid.NewGuid() + "</RequestId></ErrorResponse>"));

    public void Dispose() => _http.Dispose();
}
