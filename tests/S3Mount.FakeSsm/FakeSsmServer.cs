using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Threading;
using System.Threading.Tasks;

namespace S3Mount.FakeSsm;

public sealed class FakeSsmOptions
{
    public string Region { get; init; } = "us-east-1";

    /// <summary>Known access key -> secret key: signatures from these are verified in full; other keys are checked for shape only.</summary>
    public IReadOnlyDictionary<string, string> SecretKeys { get; init; } = new Dictionary<string, string>();

    /// <summary>Validate bodies against the botocore model (400 ValidationException like AWS).</summary>
    public bool ValidateRequests { get; init; } = true;

    /// <summary>Percentage (0..100) of calls answered 400 ThrottlingException "Rate exceeded".</summary>
    public int ThrottlePercent { get; set; }

    public int Seed { get; init; } = 12345;

    public IOutputStore? OutputStore { get; init; }

    /// <summary>How long after SendCommand an invocation is invisible (ListCommandInvocations omits it, GetCommandInvocation says InvocationDoesNotExist).</summary>
    public TimeSpan InvocationVisibilityDelay { get; init; } = TimeSpan.Zero;

    /// <summary>Time for the agent to pick up a command.</summary>
    public TimeSpan DeliveryDelay { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Multiplies TimeoutSeconds and executionTimeout so tests need not wait 30 s (e.g. 0.001).</summary>
    public double TimeoutScale { get; init; } = 1.0;

    /// <summary>The first this many SendCommand calls answer 503 ServiceUnavailable (retry tests).</summary>
    public int FailFirstSends { get; init; }

    /// <summary>Added to every answer, like a real API round trip (benchmarks).</summary>
    public TimeSpan ApiLatency { get; init; } = TimeSpan.Zero;
}

/// <summary>
/// A faithful stand-in for SSM Run Command on 127.0.0.1: the JSON 1.1 wire protocol for SendCommand,
/// ListCommandInvocations, GetCommandInvocation, CancelCommand, DescribeInstanceInformation and ListCommands, SigV4
/// header checks, model validation, pagination, SSM's output truncation, MaxConcurrency/MaxErrors and S3 output.
/// </summary>
public sealed class FakeSsmServer : IDisposable
{
    public const string PluginName = "aws:runShellScript";
    public const int DetailsOutputLimit = 2500;
    public const int StdoutLimit = 24000;
    public const int StderrLimit = 8000;

    private static readonly Regex AuthPattern = new(
        "^AWS4-HMAC-SHA256 Credential=(?<ak>[A-Za-z0-9]+)/(?<date>\\d{8})/(?<region>[a-z0-9-]+)/(?<service>[a-z0-9-]+)/aws4_request, ?SignedHeaders=(?<sh>[a-z0-9;-]+), ?Signature=(?<sig>[0-9a-f]{64})$",
        RegexOptions.CultureInvariant);

    private static readonly Regex AmzDatePattern = new("^\\d{8}T\\d{6}Z$", RegexOptions.CultureInvariant);

    private readonly LoopbackHttpServer _http;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, FakeNode> _nodes = new(StringComparer.Ordinal);
    private readonly List<FakeCommand> _commands = new();
    private readonly Dictionary<string, FakeCommand> _commandsById = new(StringComparer.Ordinal);
    private readonly object _gate = new();
    private readonly Random _rng;
    private readonly SsmSchema? _schema;
    private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<FakeRequestRecord> _log = new();
    private int _throttled;
    private int _sends;

    public FakeSsmServer(FakeSsmOptions? options = null)
    {
        Options = options ?? new FakeSsmOptions();
        _rng = new Random(Options.Seed);
        _schema = Options.ValidateRequests ? SsmSchema.Default : null;
        _http = new LoopbackHttpServer(HandleAsync);
    }

    public FakeSsmOptions Options { get; }

    public Uri Endpoint => _http.Endpoint;

    /// <summary>Calls per operation (throttled and rejected calls included).</summary>
    public IReadOnlyDictionary<string, int> Calls => _calls;

    public int TotalCalls => _calls.Values.Sum();

    /// <summary>Calls answered with the injected ThrottlingException.</summary>
    public int ThrottledCalls => Volatile.Read(ref _throttled);

    /// <summary>Every request received, in order of arrival.</summary>
    public IReadOnlyCollection<FakeRequestRecord> Requests => _log;

    public void AddNode(FakeNode node) => _nodes[node.InstanceId] = node;

    public void AddInstance(string instanceId, IFakeInstance instance) => AddNode(new FakeNode(instanceId, instance));

    public IReadOnlyList<FakeCommandView> Commands
    {
        get
        {
            lock (_gate)
            {
                return _commands.Select(c => new FakeCommandView(c.Id, c.InstanceIds.ToList(), c.MaxConcurrency, c.MaxErrors, c.Cancelled, c.Comment, FakeScript.TryDecode(c.Script) ?? c.Script)).ToList();
            }
        }
    }

    /// <summary>Waits until no invocation is pending or running (tests).</summary>
    public async Task WaitIdleAsync(TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            lock (_gate)
            {
                if (_commands.All(c => c.Invocations.Values.All(i => IsTerminal(i.Status))))
                {
                    return;
                }
            }

            await Task.Delay(10).ConfigureAwait(false);
        }
    }

    private async Task<FakeHttpResponse> HandleAsync(FakeHttpRequest request)
    {
        if (Options.ApiLatency > TimeSpan.Zero)
        {
            await Task.Delay(Options.ApiLatency).ConfigureAwait(false);
        }

        var (status, json) = Dispatch(request);
        return new FakeHttpResponse(status, "application/x-amz-json-1.1", Encoding.UTF8.GetBytes(json), new Dictionary<string, string> { ["x-amzn-RequestId"] = Guid.NewGuid().ToString() });
    }

    private static (int, string) Error(int status, string type, string message) =>
        (status, new JsonObject { ["__type"] = "com.amazonaws.ssm#" + type, ["message"] = message }.ToJsonString());

    private (int, string) Dispatch(FakeHttpRequest req)
    {
        var body = req.Body;
        var target = req.Header("X-Amz-Target") ?? string.Empty;
        var op = target.StartsWith("AmazonSSM.", StringComparison.Ordinal) ? target.Substring("AmazonSSM.".Length) : target;
        _calls.AddOrUpdate(op, 1, (_, n) => n + 1);
        var text = Encoding.UTF8.GetString(body);
        var contentType = req.Header("Content-Type");
        _log.Enqueue(new FakeRequestRecord(op, text, req.Header("Authorization"), req.Header("X-Amz-Date"), contentType));

        if (req.Method != "POST" || req.Path != "/")
        {
            return Error(404, "UnknownOperationException", "Only POST / is served.");
        }

        if (!(contentType ?? string.Empty).StartsWith("application/x-amz-json-1.1", StringComparison.Ordinal))
        {
            return Error(400, "SerializationException", "Content-Type must be application/x-amz-json-1.1, got '" + contentType + "'.");
        }

        var authError = CheckSignature(req, body);
        if (authError is not null)
        {
            return authError.Value;
        }

        string[] ops = { "SendCommand", "ListCommandInvocations", "GetCommandInvocation", "CancelCommand", "DescribeInstanceInformation", "ListCommands" };
        if (!ops.Contains(op))
        {
            return Error(400, "UnknownOperationException", "Unknown operation " + target);
        }

        if (op == "SendCommand" && Interlocked.Increment(ref _sends) <= Options.FailFirstSends)
        {
            return Error(503, "ServiceUnavailable", "Service is unavailable (injected).");
        }

        if (Throttle())
        {
            Interlocked.Increment(ref _throttled);
            return Error(400, "ThrottlingException", "Rate exceeded");
        }

        JsonObject input;
        try
        {
            input = (body.Length == 0 ? new JsonObject() : JsonNode.Parse(body)) as JsonObject ?? throw new JsonException("not an object");
        }
        catch (JsonException ex)
        {
            return Error(400, "SerializationException", "Malformed JSON: " + ex.Message);
        }

        if (_schema is not null)
        {
            var errors = _schema.ValidateInput(op, input);
            if (errors.Count > 0)
            {
                return Error(400, "ValidationException", errors.Count + " validation error" + (errors.Count == 1 ? string.Empty : "s") + " detected: " + string.Join("; ", errors));
            }
        }

        try
        {
            var result = op switch
            {
                "SendCommand" => SendCommand(input),
                "ListCommandInvocations" => ListCommandInvocations(input),
                "GetCommandInvocation" => GetCommandInvocation(input),
                "CancelCommand" => CancelCommand(input),
                "DescribeInstanceInformation" => DescribeInstanceInformation(input),
                _ => ListCommands(input),
            };
            return (200, result.ToJsonString());
        }
        catch (FakeSsmError e)
        {
            return Error(400, e.Type, e.Message);
        }
    }

    private bool Throttle()
    {
        if (Options.ThrottlePercent <= 0)
        {
            return false;
        }

        lock (_rng)
        {
            return _rng.Next(100) < Options.ThrottlePercent;
        }
    }

    private (int, string)? CheckSignature(FakeHttpRequest req, byte[] body)
    {
        var auth = req.Header("Authorization");
        var amzDate = req.Header("X-Amz-Date");
        if (string.IsNullOrEmpty(auth))
        {
            return Error(400, "MissingAuthenticationTokenException", "Missing Authentication Token");
        }

        var m = AuthPattern.Match(auth);
        if (!m.Success)
        {
            return Error(400, "IncompleteSignatureException", "Authorization header is not a SigV4 header: " + auth);
        }

        if (string.IsNullOrEmpty(amzDate) || !AmzDatePattern.IsMatch(amzDate) || !amzDate.StartsWith(m.Groups["date"].Value, StringComparison.Ordinal))
        {
            return Error(400, "IncompleteSignatureException", "X-Amz-Date is missing or does not match the credential scope date.");
        }

        if (m.Groups["service"].Value != "ssm")
        {
            return Error(400, "InvalidSignatureException", "Credential should be scoped to correct service: 'ssm'.");
        }

        if (m.Groups["region"].Value != Options.Region)
        {
            return Error(400, "InvalidSignatureException", "Credential should be scoped to a valid region, not '" + m.Groups["region"].Value + "'.");
        }

        var signed = m.Groups["sh"].Value.Split(';');
        if (!signed.Contains("host") || !signed.Contains("x-amz-date"))
        {
            return Error(400, "InvalidSignatureException", "SignedHeaders must include host and x-amz-date.");
        }

        if (Options.SecretKeys.TryGetValue(m.Groups["ak"].Value, out var secret))
        {
            var canonical = new StringBuilder();
            canonical.Append(req.Method).Append('\n').Append(req.Path).Append('\n').Append(req.Query).Append('\n');
            foreach (var h in signed)
            {
                var v = req.Header(h) ?? string.Empty;
                canonical.Append(h).Append(':').Append(Regex.Replace(v.Trim(), "\\s+", " ")).Append('\n');
            }

            canonical.Append('\n').Append(m.Groups["sh"].Value).Append('\n').Append(Hex(SHA256.HashData(body)));
            var scope = m.Groups["date"].Value + "/" + Options.Region + "/ssm/aws4_request";
            var toSign = "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonical.ToString())));
            var key = Hmac(Encoding.UTF8.GetBytes("AWS4" + secret), m.Groups["date"].Value);
            key = Hmac(key, Options.Region);
            key = Hmac(key, "ssm");
            key = Hmac(key, "aws4_request");
            var expected = Hex(Hmac(key, toSign));
            if (expected != m.Groups["sig"].Value)
            {
                return Error(400, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided.");
            }
        }

        return null;
    }

    private static byte[] Hmac(byte[] key, string data) => HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(data));

    private static string Hex(byte[] b) => Convert.ToHexString(b).ToLowerInvariant();

    // ---------------- operations ----------------
    private JsonObject SendCommand(JsonObject input)
    {
        var document = (string)input["DocumentName"]!;
        if (document != "AWS-RunShellScript")
        {
            throw new FakeSsmError("InvalidDocument", "Document " + document + " does not exist in this fake (only AWS-RunShellScript).");
        }

        var parameters = input["Parameters"] as JsonObject;
        var commands = (parameters?["commands"] as JsonArray)?.Select(x => (string)x!).ToList();
        if (commands is null || commands.Count == 0)
        {
            throw new FakeSsmError("InvalidParameters", "Parameter \"commands\" is required.");
        }

        foreach (var p in parameters!)
        {
            if (p.Key != "commands" && p.Key != "workingDirectory" && p.Key != "executionTimeout")
            {
                throw new FakeSsmError("InvalidParameters", "Parameter \"" + p.Key + "\" is not defined by AWS-RunShellScript.");
            }
        }

        var execTimeout = 3600;
        if (parameters["executionTimeout"] is JsonArray et && et.Count > 0)
        {
            if (!int.TryParse((string?)et[0], NumberStyles.None, CultureInfo.InvariantCulture, out execTimeout) || execTimeout < 1 || execTimeout > 172800)
            {
                throw new FakeSsmError("InvalidParameters", "executionTimeout must be 1..172800.");
            }
        }

        var ids = (input["InstanceIds"] as JsonArray)?.Select(x => (string)x!).ToList() ?? new List<string>();
        var targets = input["Targets"] as JsonArray;
        if (ids.Count > 0 && targets is not null && targets.Count > 0)
        {
            throw new FakeSsmError("InvalidParameters", "InstanceIds and Targets cannot both be given.");
        }

        if (ids.Count == 0 && (targets is null || targets.Count == 0))
        {
            throw new FakeSsmError("InvalidParameters", "InstanceIds or Targets is required.");
        }

        if (ids.Distinct(StringComparer.Ordinal).Count() != ids.Count)
        {
            throw new FakeSsmError("DuplicateInstanceId", "Duplicate instance ids.");
        }

        var unknown = ids.Where(i => !_nodes.ContainsKey(i)).ToList();
        if (unknown.Count > 0)
        {
            throw new FakeSsmError("InvalidInstanceId", "Instances [[" + string.Join(", ", unknown) + "]] not in a valid state for account 123456789012");
        }

        if (targets is not null && targets.Count > 0)
        {
            ids = ResolveTargets(targets);
        }

        var total = ids.Count;
        var cmd = new FakeCommand
        {
            Id = Guid.NewGuid().ToString(),
            Document = document,
            Comment = (string?)input["Comment"] ?? string.Empty,
            Parameters = parameters.DeepClone().AsObject(),
            InstanceIdsInput = input["InstanceIds"]?.DeepClone() as JsonArray ?? new JsonArray(),
            Targets = targets?.DeepClone() as JsonArray ?? new JsonArray(),
            InstanceIds = ids,
            Requested = DateTimeOffset.UtcNow,
            MaxConcurrencyText = (string?)input["MaxConcurrency"] ?? "50",
            MaxErrorsText = (string?)input["MaxErrors"] ?? "0",
            TimeoutSeconds = (int?)input["TimeoutSeconds"] ?? 3600,
            ExecutionTimeout = execTimeout,
            Bucket = (string?)input["OutputS3BucketName"],
            Prefix = (string?)input["OutputS3KeyPrefix"],
            S3Region = (string?)input["OutputS3Region"],
            Script = string.Join("\n", commands),
        };
        cmd.MaxConcurrency = Resolve(cmd.MaxConcurrencyText, total, true);
        cmd.MaxErrors = Resolve(cmd.MaxErrorsText, total, false);
        foreach (var id in ids)
        {
            cmd.Invocations[id] = new FakeInvocation { InstanceId = id, VisibleAt = DateTime.UtcNow + Options.InvocationVisibilityDelay };
        }

        lock (_gate)
        {
            _commands.Add(cmd);
            _commandsById[cmd.Id] = cmd;
        }

        _ = Task.Run(() => RunCommandAsync(cmd));
        return new JsonObject { ["Command"] = CommandJson(cmd) };
    }

    private List<string> ResolveTargets(JsonArray targets)
    {
        var result = new List<string>();
        foreach (var t in targets.OfType<JsonObject>())
        {
            var key = (string?)t["Key"] ?? string.Empty;
            var values = (t["Values"] as JsonArray)?.Select(v => (string)v!).ToList() ?? new List<string>();
            IEnumerable<FakeNode> hits;
            if (key == "InstanceIds")
            {
                hits = values.Where(_nodes.ContainsKey).Select(v => _nodes[v]);
            }
            else if (key.StartsWith("tag:", StringComparison.Ordinal))
            {
                var k = key.Substring(4);
                hits = _nodes.Values.Where(n => n.Tags.TryGetValue(k, out var v) && values.Contains(v));
            }
            else if (key == "tag-key")
            {
                hits = _nodes.Values.Where(n => values.Any(n.Tags.ContainsKey));
            }
            else
            {
                throw new FakeSsmError("InvalidParameters", "Target key " + key + " is not supported by this fake.");
            }

            foreach (var n in hits.OrderBy(n => n.InstanceId, StringComparer.Ordinal))
            {
                if (!result.Contains(n.InstanceId))
                {
                    result.Add(n.InstanceId);
                }
            }
        }

        return result;
    }

    private static int Resolve(string text, int total, bool atLeastOne)
    {
        int n;
        if (text.EndsWith('%'))
        {
            var pct = int.Parse(text.TrimEnd('%'), CultureInfo.InvariantCulture);
            n = atLeastOne ? (int)Math.Ceiling(total * pct / 100.0) : (int)Math.Floor(total * pct / 100.0);
        }
        else
        {
            n = int.Parse(text, CultureInfo.InvariantCulture);
        }

        return atLeastOne ? Math.Max(1, n) : Math.Max(0, n);
    }

    private async Task RunCommandAsync(FakeCommand cmd)
    {
        using var slots = new SemaphoreSlim(cmd.MaxConcurrency);
        var running = new List<Task>();
        foreach (var id in cmd.InstanceIds)
        {
            await slots.WaitAsync(_stop.Token).ConfigureAwait(false);
            var inv = cmd.Invocations[id];
            bool stop;
            lock (_gate)
            {
                stop = cmd.Cancelled || cmd.ErrorCount > cmd.MaxErrors;
                if (stop && inv.Status == "Pending")
                {
                    // SSM stops sending to further targets once errors exceed MaxErrors ("Terminated": cancelled by the
                    // system), or after CancelCommand ("Cancelled").
                    inv.Status = "Cancelled";
                    inv.StatusDetails = cmd.Cancelled ? "Cancelled" : "Terminated";
                    inv.End = DateTimeOffset.UtcNow;
                }
            }

            if (stop)
            {
                slots.Release();
                continue;
            }

            running.Add(Task.Run(async () =>
            {
                try
                {
                    await RunInvocationAsync(cmd, inv).ConfigureAwait(false);
                }
                finally
                {
                    slots.Release();
                }
            }));
        }

        await Task.WhenAll(running).ConfigureAwait(false);
    }

    private async Task RunInvocationAsync(FakeCommand cmd, FakeInvocation inv)
    {
        var node = _nodes[inv.InstanceId];
        try
        {
            await Task.Delay(Options.DeliveryDelay, inv.Cancel.Token).ConfigureAwait(false);
            if (node.Undeliverable || node.PingStatus != "Online")
            {
                Finish(cmd, inv, "Failed", "Undeliverable", -1, string.Empty, string.Empty, countsAsError: false);
                return;
            }

            if (node.StaysPending)
            {
                // The service never moves it on, not even after the delivery timeout.
                await Task.Delay(Timeout.Infinite, inv.Cancel.Token).ConfigureAwait(false);
            }

            if (node.NeverDelivered)
            {
                await Task.Delay(TimeSpan.FromSeconds(cmd.TimeoutSeconds * Options.TimeoutScale), inv.Cancel.Token).ConfigureAwait(false);
                Finish(cmd, inv, "TimedOut", "Delivery Timed Out", -1, string.Empty, string.Empty, countsAsError: false);
                return;
            }

            lock (_gate)
            {
                if (IsTerminal(inv.Status))
                {
                    return;
                }

                inv.Status = "InProgress";
                inv.StatusDetails = "InProgress";
                inv.Start = DateTimeOffset.UtcNow;
            }

            if (node.AgentDiesMidCommand)
            {
                // The agent started the script, then died: nothing reports a final status, ever.
                await Task.Delay(Timeout.Infinite, inv.Cancel.Token).ConfigureAwait(false);
            }

            using var exec = CancellationTokenSource.CreateLinkedTokenSource(inv.Cancel.Token);
            exec.CancelAfter(TimeSpan.FromSeconds(cmd.ExecutionTimeout * Options.TimeoutScale));
            (int exit, string stdout, string stderr) r;
            try
            {
                r = await node.Instance.RunAsync(cmd.Script, exec.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!inv.Cancel.IsCancellationRequested)
            {
                Finish(cmd, inv, "TimedOut", "Execution Timed Out", -1, string.Empty, "command timed out", countsAsError: true);
                return;
            }

            if (cmd.Bucket is not null && Options.OutputStore is not null)
            {
                var prefix = string.IsNullOrEmpty(cmd.Prefix) ? string.Empty : cmd.Prefix!.TrimEnd('/') + "/";
                var baseKey = prefix + cmd.Id + "/" + inv.InstanceId + "/awsrunShellScript/0.awsrunShellScript/";
                await Options.OutputStore.PutAsync(cmd.Bucket, baseKey + "stdout", r.stdout, CancellationToken.None).ConfigureAwait(false);
                if (r.stderr.Length > 0)
                {
                    await Options.OutputStore.PutAsync(cmd.Bucket, baseKey + "stderr", r.stderr, CancellationToken.None).ConfigureAwait(false);
                }
            }

            var stderr = r.exit == 0 ? r.stderr : (r.stderr.Length > 0 && !r.stderr.EndsWith('\n') ? r.stderr + "\n" : r.stderr) + "failed to run commands: exit status " + r.exit.ToString(CultureInfo.InvariantCulture);
            Finish(cmd, inv, r.exit == 0 ? "Success" : "Failed", r.exit == 0 ? "Success" : "Failed", r.exit, r.stdout, stderr, countsAsError: r.exit != 0);
        }
        catch (OperationCanceledException)
        {
            Finish(cmd, inv, "Cancelled", "Cancelled", -1, string.Empty, string.Empty, countsAsError: false);
        }
    }

    private void Finish(FakeCommand cmd, FakeInvocation inv, string status, string details, int code, string stdout, string stderr, bool countsAsError)
    {
        lock (_gate)
        {
            if (IsTerminal(inv.Status))
            {
                return;
            }

            inv.Status = status;
            inv.StatusDetails = details;
            inv.ResponseCode = code;
            inv.Stdout = stdout;
            inv.Stderr = stderr;
            inv.Start ??= DateTimeOffset.UtcNow;
            inv.End = DateTimeOffset.UtcNow;
            if (countsAsError)
            {
                cmd.ErrorCount++;
            }
        }
    }

    private static bool IsTerminal(string s) => s is "Success" or "Failed" or "TimedOut" or "Cancelled";

    private JsonObject ListCommandInvocations(JsonObject input)
    {
        var commandId = (string?)input["CommandId"];
        var instanceId = (string?)input["InstanceId"];
        var details = (bool?)input["Details"] ?? false;
        var max = (int?)input["MaxResults"] ?? 50;
        var now = DateTime.UtcNow;
        List<(FakeCommand c, FakeInvocation i)> all;
        lock (_gate)
        {
            if (commandId is not null && !_commandsById.ContainsKey(commandId))
            {
                throw new FakeSsmError("InvalidCommandId", string.Empty);
            }

            all = (commandId is null ? _commands : new List<FakeCommand> { _commandsById[commandId] })
                .SelectMany(c => c.InstanceIds.Select(id => (c, c.Invocations[id])))
                .Where(x => x.Item2.VisibleAt <= now && (instanceId is null || x.Item2.InstanceId == instanceId))
                .ToList();
            var (start, next) = Page(input, all.Count, max, "lci:" + commandId + ":" + instanceId);
            var arr = new JsonArray();
            foreach (var (c, i) in all.Skip(start).Take(max))
            {
                arr.Add(InvocationJson(c, i, details));
            }

            var result = new JsonObject { ["CommandInvocations"] = arr };
            if (next is not null)
            {
                result["NextToken"] = next;
            }

            return result;
        }
    }

    private JsonObject GetCommandInvocation(JsonObject input)
    {
        var commandId = (string)input["CommandId"]!;
        var instanceId = (string)input["InstanceId"]!;
        var plugin = (string?)input["PluginName"];
        lock (_gate)
        {
            var cmd = _commandsById.TryGetValue(commandId, out var found) ? found : null;
            if (cmd is null || !cmd.Invocations.TryGetValue(instanceId, out var inv) || inv.VisibleAt > DateTime.UtcNow)
            {
                throw new FakeSsmError("InvocationDoesNotExist", string.Empty);
            }

            if (plugin is not null && plugin != PluginName)
            {
                throw new FakeSsmError("InvalidPluginName", string.Empty);
            }

            var o = new JsonObject
            {
                ["CommandId"] = cmd.Id,
                ["InstanceId"] = inv.InstanceId,
                ["Comment"] = cmd.Comment,
                ["DocumentName"] = cmd.Document,
                ["DocumentVersion"] = "$DEFAULT",
                ["PluginName"] = PluginName,
                ["ResponseCode"] = inv.ResponseCode,
                ["Status"] = inv.Status,
                ["StatusDetails"] = inv.StatusDetails,
                ["StandardOutputContent"] = Cut(inv.Stdout, StdoutLimit),
                ["StandardOutputUrl"] = Url(cmd, inv, "stdout"),
                ["StandardErrorContent"] = Cut(inv.Stderr, StderrLimit),
                ["StandardErrorUrl"] = Url(cmd, inv, "stderr"),
                ["CloudWatchOutputConfig"] = new JsonObject { ["CloudWatchOutputEnabled"] = false },
            };
            if (inv.Start is DateTimeOffset s)
            {
                o["ExecutionStartDateTime"] = Iso(s);
                var end = inv.End ?? DateTimeOffset.UtcNow;
                o["ExecutionElapsedTime"] = "PT" + (end - s).TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + "S";
            }

            if (inv.End is DateTimeOffset e && inv.Start is not null)
            {
                o["ExecutionEndDateTime"] = Iso(e);
            }

            return o;
        }
    }

    private JsonObject CancelCommand(JsonObject input)
    {
        var commandId = (string)input["CommandId"]!;
        var only = (input["InstanceIds"] as JsonArray)?.Select(x => (string)x!).ToHashSet(StringComparer.Ordinal);
        lock (_gate)
        {
            var cmd = _commandsById.TryGetValue(commandId, out var found) ? found : throw new FakeSsmError("InvalidCommandId", string.Empty);
            if (only is null)
            {
                cmd.Cancelled = true;
            }

            foreach (var inv in cmd.Invocations.Values.Where(i => only is null || only.Contains(i.InstanceId)))
            {
                if (!IsTerminal(inv.Status))
                {
                    inv.Cancel.Cancel();
                    if (inv.Status == "Pending")
                    {
                        inv.Status = "Cancelled";
                        inv.StatusDetails = "Cancelled";
                        inv.End = DateTimeOffset.UtcNow;
                    }
                }
            }
        }

        return new JsonObject();
    }

    private JsonObject DescribeInstanceInformation(JsonObject input)
    {
        var filters = new List<(string key, List<string> values)>();
        foreach (var f in (input["InstanceInformationFilterList"] as JsonArray)?.OfType<JsonObject>() ?? Enumerable.Empty<JsonObject>())
        {
            filters.Add(((string)f["key"]!, f["valueSet"]!.AsArray().Select(v => (string)v!).ToList()));
        }

        foreach (var f in (input["Filters"] as JsonArray)?.OfType<JsonObject>() ?? Enumerable.Empty<JsonObject>())
        {
            filters.Add(((string)f["Key"]!, f["Values"]!.AsArray().Select(v => (string)v!).ToList()));
        }

        // An InstanceIds filter is a lookup, not a scan (fleets of 10,000 nodes page through it 50 at a time).
        var byIds = filters.Where(f => f.key == "InstanceIds").Select(f => f.values).FirstOrDefault();
        IEnumerable<FakeNode> nodes = byIds is null ? _nodes.Values : byIds.Distinct(StringComparer.Ordinal).Where(_nodes.ContainsKey).Select(id => _nodes[id]);
        nodes = nodes.OrderBy(n => n.InstanceId, StringComparer.Ordinal);
        foreach (var (key, values) in filters)
        {
            nodes = key switch
            {
                "InstanceIds" => nodes.Where(n => values.Contains(n.InstanceId)),
                "PingStatus" => nodes.Where(n => values.Contains(n.PingStatus)),
                "PlatformTypes" => nodes.Where(n => values.Contains(n.PlatformType)),
                _ when key.StartsWith("tag:", StringComparison.Ordinal) => nodes.Where(n => n.Tags.TryGetValue(key.Substring(4), out var v) && values.Contains(v)),
                _ => throw new FakeSsmError("InvalidFilterKey", string.Empty),
            };
        }

        var list = nodes.ToList();
        var max = (int?)input["MaxResults"] ?? 50;
        var (start, next) = Page(input, list.Count, max, "dii");
        var arr = new JsonArray();
        var now = DateTimeOffset.UtcNow;
        foreach (var n in list.Skip(start).Take(max))
        {
            arr.Add(new JsonObject
            {
                ["InstanceId"] = n.InstanceId,
                ["PingStatus"] = n.PingStatus,
                ["LastPingDateTime"] = Epoch(n.PingStatus == "Online" ? now : now.AddHours(-3)),
                ["AgentVersion"] = "3.3.1142.0",
                ["IsLatestVersion"] = false,
                ["PlatformType"] = n.PlatformType,
                ["PlatformName"] = n.PlatformName,
                ["PlatformVersion"] = n.PlatformVersion,
                ["ResourceType"] = "EC2Instance",
                ["IPAddress"] = "10.0.0.1",
                ["ComputerName"] = "ip-10-0-0-1.ec2.internal",
                ["SourceId"] = n.InstanceId,
                ["SourceType"] = "AWS::EC2::Instance",
            });
        }

        var result = new JsonObject { ["InstanceInformationList"] = arr };
        if (next is not null)
        {
            result["NextToken"] = next;
        }

        return result;
    }

    private JsonObject ListCommands(JsonObject input)
    {
        var commandId = (string?)input["CommandId"];
        var instanceId = (string?)input["InstanceId"];
        var max = (int?)input["MaxResults"] ?? 50;
        lock (_gate)
        {
            if (commandId is not null && !_commandsById.ContainsKey(commandId))
            {
                throw new FakeSsmError("InvalidCommandId", string.Empty);
            }

            IEnumerable<FakeCommand> matching = _commands.Where(c => (commandId is null || c.Id == commandId) && (instanceId is null || c.InstanceIds.Contains(instanceId)));
            foreach (var f in (input["Filters"] as JsonArray)?.OfType<JsonObject>() ?? Enumerable.Empty<JsonObject>())
            {
                var value = (string)f["value"]!;
                matching = (string)f["key"]! switch
                {
                    "InvokedAfter" => matching.Where(c => c.Requested >= ParseFilterTime(value)),
                    "InvokedBefore" => matching.Where(c => c.Requested <= ParseFilterTime(value)),
                    "DocumentName" => matching.Where(c => c.Document == value),
                    "Status" => matching.Where(c => (string)CommandJson(c)["Status"]! == value),
                    _ => throw new FakeSsmError("InvalidFilterKey", "Filter key " + (string)f["key"]! + " is not supported by this fake."),
                };
            }

            var list = matching.OrderByDescending(c => c.Requested).ToList();
            var (start, next) = Page(input, list.Count, max, "lc");
            var arr = new JsonArray();
            foreach (var c in list.Skip(start).Take(max))
            {
                arr.Add(CommandJson(c));
            }

            var result = new JsonObject { ["Commands"] = arr };
            if (next is not null)
            {
                result["NextToken"] = next;
            }

            return result;
        }
    }

    private static DateTimeOffset ParseFilterTime(string value) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)
            ? t
            : throw new FakeSsmError("InvalidFilterValue", "'" + value + "' is not an ISO-8601 date and time.");

    /// <summary>Opaque tokens bound to the query, like SSM's (a token from another query is InvalidNextToken).</summary>
    private static (int start, string? next) Page(JsonObject input, int count, int max, string scope)
    {
        var start = 0;
        if ((string?)input["NextToken"] is string token)
        {
            try
            {
                var parts = Encoding.UTF8.GetString(Convert.FromBase64String(token)).Split('|');
                if (parts.Length != 2 || parts[0] != scope)
                {
                    throw new FormatException();
                }

                start = int.Parse(parts[1], CultureInfo.InvariantCulture);
            }
            catch (FormatException)
            {
                throw new FakeSsmError("InvalidNextToken", "The specified token is not valid.");
            }
        }

        var end = start + max;
        return (start, end < count ? Convert.ToBase64String(Encoding.UTF8.GetBytes(scope + "|" + end.ToString(CultureInfo.InvariantCulture))) : null);
    }

    private JsonObject CommandJson(FakeCommand c)
    {
        List<FakeInvocation> invs;
        invs = c.Invocations.Values.ToList();
        var done = invs.Count(i => IsTerminal(i.Status));
        var errors = invs.Count(i => i.Status == "Failed" && i.StatusDetails != "Undeliverable" || i.StatusDetails == "Execution Timed Out");
        var dto = invs.Count(i => i.StatusDetails == "Delivery Timed Out");
        string status;
        if (invs.Count > 0 && done == invs.Count)
        {
            status = invs.All(i => i.Status == "Success") ? "Success"
                : c.Cancelled ? "Cancelled"
                : invs.Any(i => i.Status == "Failed") ? "Failed"
                : invs.Any(i => i.Status == "TimedOut") ? "TimedOut"
                : invs.All(i => i.Status == "Cancelled") ? "Cancelled" : "Failed";
        }
        else
        {
            status = c.Cancelled ? "Cancelling" : invs.Any(i => i.Status != "Pending") ? "InProgress" : "Pending";
        }

        var o = new JsonObject
        {
            ["CommandId"] = c.Id,
            ["DocumentName"] = c.Document,
            ["DocumentVersion"] = "$DEFAULT",
            ["Comment"] = c.Comment,
            ["ExpiresAfter"] = Epoch(c.Requested.AddSeconds(c.TimeoutSeconds + c.ExecutionTimeout)),
            ["Parameters"] = c.Parameters.DeepClone(),
            ["InstanceIds"] = c.InstanceIdsInput.DeepClone(),
            ["Targets"] = c.Targets.DeepClone(),
            ["RequestedDateTime"] = Epoch(c.Requested),
            ["Status"] = status,
            ["StatusDetails"] = status == "Cancelling" ? "Cancelling" : status,
            ["OutputS3Region"] = c.S3Region ?? Options.Region,
            ["OutputS3BucketName"] = c.Bucket ?? string.Empty,
            ["OutputS3KeyPrefix"] = c.Prefix ?? string.Empty,
            ["MaxConcurrency"] = c.MaxConcurrencyText,
            ["MaxErrors"] = c.MaxErrorsText,
            ["TargetCount"] = invs.Count,
            ["CompletedCount"] = done,
            ["ErrorCount"] = errors,
            ["DeliveryTimedOutCount"] = dto,
            ["ServiceRole"] = string.Empty,
            ["CloudWatchOutputConfig"] = new JsonObject { ["CloudWatchOutputEnabled"] = false },
            ["TimeoutSeconds"] = c.TimeoutSeconds,
        };
        if (c.Bucket is null)
        {
            // SSM sends empty strings here; the model's min length 3 would reject them, so leave them out.
            o.Remove("OutputS3BucketName");
        }

        return o;
    }

    private JsonObject InvocationJson(FakeCommand c, FakeInvocation i, bool details)
    {
        var o = new JsonObject
        {
            ["CommandId"] = c.Id,
            ["InstanceId"] = i.InstanceId,
            ["InstanceName"] = string.Empty,
            ["Comment"] = c.Comment,
            ["DocumentName"] = c.Document,
            ["DocumentVersion"] = "$DEFAULT",
            ["RequestedDateTime"] = Epoch(c.Requested),
            ["Status"] = i.Status,
            ["StatusDetails"] = i.StatusDetails,
            ["TraceOutput"] = string.Empty,
            ["StandardOutputUrl"] = Url(c, i, "stdout"),
            ["StandardErrorUrl"] = Url(c, i, "stderr"),
            ["CommandPlugins"] = new JsonArray(),
            ["ServiceRole"] = string.Empty,
            ["CloudWatchOutputConfig"] = new JsonObject { ["CloudWatchOutputEnabled"] = false },
        };
        if (details)
        {
            var output = i.Stdout + (i.Stderr.Length > 0 ? "\n----------ERROR-------\n" + i.Stderr : string.Empty);
            var p = new JsonObject
            {
                ["Name"] = PluginName,
                ["Status"] = i.Status == "Delayed" || i.Status == "Cancelling" ? "InProgress" : i.Status,
                ["StatusDetails"] = i.StatusDetails,
                ["ResponseCode"] = i.ResponseCode,
                ["Output"] = Cut(output, DetailsOutputLimit),
                ["StandardOutputUrl"] = Url(c, i, "stdout"),
                ["StandardErrorUrl"] = Url(c, i, "stderr"),
                ["OutputS3Region"] = c.S3Region ?? Options.Region,
                ["OutputS3KeyPrefix"] = c.Prefix ?? string.Empty,
            };
            if (c.Bucket is not null)
            {
                p["OutputS3BucketName"] = c.Bucket;
            }

            if (i.Start is DateTimeOffset s)
            {
                p["ResponseStartDateTime"] = Epoch(s);
            }

            if (i.End is DateTimeOffset e)
            {
                p["ResponseFinishDateTime"] = Epoch(e);
            }

            o["CommandPlugins"] = new JsonArray(p);
        }

        return o;
    }

    private string Url(FakeCommand c, FakeInvocation i, string stream)
    {
        if (c.Bucket is null)
        {
            return string.Empty;
        }

        var prefix = string.IsNullOrEmpty(c.Prefix) ? string.Empty : c.Prefix!.TrimEnd('/') + "/";
        return "https://s3." + (c.S3Region ?? Options.Region) + ".amazonaws.com/" + c.Bucket + "/" + prefix + c.Id + "/" + i.InstanceId + "/awsrunShellScript/0.awsrunShellScript/" + stream;
    }

    private static string Cut(string s, int max) => s.Length <= max ? s : s.Substring(0, max);

    private static double Epoch(DateTimeOffset t) => Math.Round(t.ToUnixTimeMilliseconds() / 1000.0, 3);

    private static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    public void Dispose()
    {
        _stop.Cancel();
        _http.Dispose();
        lock (_gate)
        {
            foreach (var inv in _commands.SelectMany(c => c.Invocations.Values))
            {
                inv.Cancel.Cancel();
            }
        }
    }

    private sealed class FakeCommand
    {
        public string Id { get; init; } = string.Empty;
        public string Document { get; init; } = string.Empty;
        public string Comment { get; init; } = string.Empty;
        public JsonObject Parameters { get; init; } = new();
        public JsonArray InstanceIdsInput { get; init; } = new();
        public JsonArray Targets { get; init; } = new();
        public List<string> InstanceIds { get; init; } = new();
        public DateTimeOffset Requested { get; init; }
        public string MaxConcurrencyText { get; init; } = "50";
        public string MaxErrorsText { get; init; } = "0";
        public int MaxConcurrency { get; set; }
        public int MaxErrors { get; set; }
        public int TimeoutSeconds { get; init; }
        public int ExecutionTimeout { get; init; }
        public string? Bucket { get; init; }
        public string? Prefix { get; init; }
        public string? S3Region { get; init; }
        public string Script { get; init; } = string.Empty;
        public bool Cancelled { get; set; }
        public int ErrorCount { get; set; }
        public Dictionary<string, FakeInvocation> Invocations { get; } = new(StringComparer.Ordinal);
    }

    private sealed class FakeInvocation
    {
        public string InstanceId { get; init; } = string.Empty;
        public string Status { get; set; } = "Pending";
        public string StatusDetails { get; set; } = "Pending";
        public int ResponseCode { get; set; } = -1;
        public string Stdout { get; set; } = string.Empty;
        public string Stderr { get; set; } = string.Empty;
        public DateTimeOffset? Start { get; set; }
        public DateTimeOffset? End { get; set; }
        public DateTime VisibleAt { get; init; }
        public CancellationTokenSource Cancel { get; } = new();
    }
}

public sealed record FakeRequestRecord(string Operation, string Body, string? Authorization, string? AmzDate, string? ContentType);

/// <summary>A command as the fake received it; <see cref="Script"/> is what the node runs (S3Mount's encoding undone).</summary>
public sealed record FakeCommandView(string CommandId, IReadOnlyList<string> InstanceIds, int MaxConcurrency, int MaxErrors, bool Cancelled, string Comment, string Script);

internal sealed class FakeSsmError : Exception
{
    public FakeSsmError(string type, string message)
        : base(message)
    {
        Type = type;
    }

    public string Type { get; }
}
