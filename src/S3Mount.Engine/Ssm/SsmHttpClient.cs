using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Amazon.Runtime;
using Amazon.Runtime.Internal.Auth;
using S3Mount.Engine.Errors;

namespace S3Mount.Engine.Ssm;

/// <summary>Options of <see cref="SsmHttpClient"/>.</summary>
public sealed class SsmClientOptions
{
    public SsmRetryPolicy Retry { get; init; } = new();

    /// <summary>Per-attempt HTTP timeout.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Signing clock (tests).</summary>
    public Func<DateTime> UtcNow { get; init; } = () => DateTime.UtcNow;

    /// <summary>Called once per HTTP request with the operation name: API-call accounting for benchmarks and debug output.</summary>
    public Action<string>? OnRequest { get; init; }
}

/// <summary>
/// SSM over the JSON 1.1 protocol on a plain <see cref="HttpClient"/>, signed with AWSSDK.Core's SigV4 signer
/// (service <c>ssm</c>). Throttling and 500/502/503/504 are retried per <see cref="SsmRetryPolicy"/>.
/// </summary>
public sealed class SsmHttpClient : ISsmClient, IDisposable
{
    public const string ServiceName = "ssm";
    public const string ContentType = "application/x-amz-json-1.1";
    public const string TargetPrefix = "AmazonSSM.";

    private readonly AWSCredentials _credentials;
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;
    private readonly SsmClientOptions _options;

    public SsmHttpClient(ResolvedAwsSettings settings, SsmClientOptions? options = null, HttpMessageHandler? handler = null)
    {
        _credentials = settings.Credentials;
        Region = settings.Region;
        Endpoint = settings.Endpoint ?? DefaultEndpoint(settings.Region);
        _options = options ?? new SsmClientOptions();
        _http = handler is null ? new HttpClient(CreateHandler(), disposeHandler: true) : new HttpClient(handler, disposeHandler: false);
        _http.Timeout = System.Threading.Timeout.InfiniteTimeSpan;
        _ownsHttp = true;
    }

    public string Region { get; }

    /// <summary>On .NET Framework (Windows PowerShell) the default is 2 connections per host: far too few for a fleet.</summary>
    private static HttpMessageHandler CreateHandler()
    {
        var h = new HttpClientHandler();
        try
        {
            h.MaxConnectionsPerServer = 64;
        }
        catch (PlatformNotSupportedException)
        {
            // Keep the platform default.
        }

        return h;
    }

    public Uri Endpoint { get; }

    public static Uri DefaultEndpoint(string region) =>
        new("https://ssm." + region + (region.StartsWith("cn-", StringComparison.Ordinal) ? ".amazonaws.com.cn/" : ".amazonaws.com/"));

    public async Task<SsmCommand> SendCommandAsync(SendCommandRequest request, CancellationToken cancellationToken)
    {
        using var doc = await CallAsync("SendCommand", SsmJson.SendCommand(request), cancellationToken).ConfigureAwait(false);
        return doc.RootElement.TryGetProperty("Command", out var c) ? SsmJson.ReadCommand(c) : new SsmCommand();
    }

    public async Task<ListCommandInvocationsResponse> ListCommandInvocationsAsync(ListCommandInvocationsRequest request, CancellationToken cancellationToken)
    {
        using var doc = await CallAsync("ListCommandInvocations", SsmJson.ListCommandInvocations(request), cancellationToken).ConfigureAwait(false);
        var root = doc.RootElement;
        return new ListCommandInvocationsResponse
        {
            CommandInvocations = SsmJson.Arr(root, "CommandInvocations").Select(SsmJson.ReadInvocation).ToList(),
            NextToken = SsmJson.S(root, "NextToken"),
        };
    }

    public async Task<GetCommandInvocationResponse> GetCommandInvocationAsync(GetCommandInvocationRequest request, CancellationToken cancellationToken)
    {
        using var doc = await CallAsync("GetCommandInvocation", SsmJson.GetCommandInvocation(request), cancellationToken, request.InstanceId).ConfigureAwait(false);
        return SsmJson.ReadGetInvocation(doc.RootElement);
    }

    public async Task CancelCommandAsync(CancelCommandRequest request, CancellationToken cancellationToken)
    {
        using var doc = await CallAsync("CancelCommand", SsmJson.CancelCommand(request), cancellationToken).ConfigureAwait(false);
    }

    public async Task<DescribeInstanceInformationResponse> DescribeInstanceInformationAsync(DescribeInstanceInformationRequest request, CancellationToken cancellationToken)
    {
        using var doc = await CallAsync("DescribeInstanceInformation", SsmJson.DescribeInstanceInformation(request), cancellationToken).ConfigureAwait(false);
        var root = doc.RootElement;
        return new DescribeInstanceInformationResponse
        {
            InstanceInformationList = SsmJson.Arr(root, "InstanceInformationList").Select(SsmJson.ReadInstance).ToList(),
            NextToken = SsmJson.S(root, "NextToken"),
        };
    }

    public async Task<ListCommandsResponse> ListCommandsAsync(ListCommandsRequest request, CancellationToken cancellationToken)
    {
        using var doc = await CallAsync("ListCommands", SsmJson.ListCommands(request), cancellationToken).ConfigureAwait(false);
        var root = doc.RootElement;
        return new ListCommandsResponse
        {
            Commands = SsmJson.Arr(root, "Commands").Select(SsmJson.ReadCommand).ToList(),
            NextToken = SsmJson.S(root, "NextToken"),
        };
    }

    private async Task<JsonDocument> CallAsync(string operation, byte[] body, CancellationToken ct, object? target = null)
    {
        var retry = _options.Retry;
        for (var attempt = 1; ; attempt++)
        {
            ct.ThrowIfCancellationRequested();
            try
            {
                return await SendOnceAsync(operation, body, ct, target).ConfigureAwait(false);
            }
            catch (SsmServiceException ex) when (ex.IsTransient && attempt < retry.MaxAttempts)
            {
                await retry.Delay(retry.ComputeDelay(attempt), ct).ConfigureAwait(false);
            }
        }
    }

    private async Task<JsonDocument> SendOnceAsync(string operation, byte[] body, CancellationToken ct, object? target)
    {
        var creds = await _credentials.GetCredentialsAsync().ConfigureAwait(false);
        using var req = new HttpRequestMessage(HttpMethod.Post, Endpoint);
        Sign(req, operation, body, creds, _options.UtcNow());
        _options.OnRequest?.Invoke(operation);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.RequestTimeout);
        HttpResponseMessage resp;
        byte[] payload;
        try
        {
            resp = await _http.SendAsync(req, HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
            payload = await resp.Content.ReadAsByteArrayAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // A hung attempt is treated like a 504 so it is retried.
            throw new SsmServiceException(SsmErrorIds.SsmServiceUnavailable, S3MountErrorKind.OperationTimeout,
                "SSM did not answer " + operation + " within " + _options.RequestTimeout.TotalSeconds + " s.", "RequestTimeout", HttpStatusCode.GatewayTimeout, null, target);
        }
        catch (HttpRequestException ex)
        {
            throw new SsmServiceException(SsmErrorIds.SsmConnectionFailed, S3MountErrorKind.ConnectionError,
                "Could not reach SSM at " + Endpoint + ": " + ex.Message, "ConnectionFailed", null, null, target, ex);
        }

        using (resp)
        {
            var requestId = resp.Headers.TryGetValues("x-amzn-RequestId", out var ids) ? ids.FirstOrDefault() : null;
            if (resp.IsSuccessStatusCode)
            {
                return payload.Length == 0 ? JsonDocument.Parse("{}") : JsonDocument.Parse(payload);
            }

            throw ParseError(payload, resp.StatusCode, requestId, target);
        }
    }

    internal static SsmServiceException ParseError(byte[] payload, HttpStatusCode status, string? requestId, object? target)
    {
        string? type = null;
        string? message = null;
        try
        {
            using var doc = JsonDocument.Parse(payload);
            type = SsmJson.S(doc.RootElement, "__type");
            message = SsmJson.S(doc.RootElement, "message") ?? SsmJson.S(doc.RootElement, "Message");
        }
        catch (JsonException)
        {
            message = payload.Length == 0 ? null : Encoding.UTF8.GetString(payload, 0, Math.Min(payload.Length, 500));
        }

        var code = ErrorCodeFromType(type) ?? ("Http" + ((int)status).ToString(CultureInfo.InvariantCulture));
        return SsmServiceException.FromError(code, message, status, requestId, target);
    }

    /// <summary><c>com.amazonaws.ssm#InvalidInstanceId:http://...</c> gives <c>InvalidInstanceId</c>.</summary>
    public static string? ErrorCodeFromType(string? type)
    {
        if (string.IsNullOrEmpty(type))
        {
            return null;
        }

        var s = type!;
        var hash = s.IndexOf('#');
        if (hash >= 0)
        {
            s = s.Substring(hash + 1);
        }

        var colon = s.IndexOf(':');
        if (colon >= 0)
        {
            s = s.Substring(0, colon);
        }

        return s.Trim();
    }

    internal void Sign(HttpRequestMessage req, string operation, byte[] body, ImmutableCredentials creds, DateTime now)
    {
        var amzDate = now.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var host = Endpoint.IsDefaultPort ? Endpoint.Host : Endpoint.Host + ":" + Endpoint.Port.ToString(CultureInfo.InvariantCulture);
        var headers = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["content-type"] = ContentType,
            ["host"] = host,
            ["x-amz-date"] = amzDate,
            ["x-amz-target"] = TargetPrefix + operation,
        };
        if (creds.UseToken)
        {
            headers["x-amz-security-token"] = creds.Token;
        }

        var signedHeaders = string.Join(";", headers.Keys);
        var bodyHash = HexUtil.ToHex(AWS4Signer.ComputeHash(body));
        var path = string.IsNullOrEmpty(Endpoint.AbsolutePath) ? "/" : Endpoint.AbsolutePath;
        var canonical = new StringBuilder()
            .Append("POST\n")
            .Append(path).Append('\n')
            .Append('\n')
            .Append(string.Concat(headers.Select(h => h.Key + ":" + h.Value + "\n")))
            .Append('\n')
            .Append(signedHeaders).Append('\n')
            .Append(bodyHash)
            .ToString();
        var result = AWS4Signer.ComputeSignature(creds, Region, now, ServiceName, signedHeaders, canonical);

        req.Headers.Host = host;
        req.Headers.TryAddWithoutValidation("X-Amz-Date", amzDate);
        req.Headers.TryAddWithoutValidation("X-Amz-Target", TargetPrefix + operation);
        if (creds.UseToken)
        {
            req.Headers.TryAddWithoutValidation("X-Amz-Security-Token", creds.Token);
        }

        req.Headers.TryAddWithoutValidation("Authorization", result.ForAuthorizationHeader);
        req.Content = new ByteArrayContent(body);
        req.Content.Headers.ContentType = new MediaTypeHeaderValue(ContentType);
    }

    public void Dispose()
    {
        if (_ownsHttp)
        {
            _http.Dispose();
        }
    }
}
