// The fake SSM service as a process, for the Pester tests (and for trying the cmdlets by hand without AWS).
//
//   dotnet S3Mount.FakeSsm.Host.dll [--nodes 3] [--offline 1] [--slow SECONDS] [--tag Key=Value ...]
//       [--simulated N [--min-latency S] [--max-latency S] [--undeliverable N] [--failing N] [--dying N]
//        [--stuck-pending N] [--large N] [--huge N] [--forged N]]
//       [--lab-node NAME[,KEY=VALUE]...]... [--lab-script PATH] [--key ACCESSKEY=SECRET ...]
//       [--throttle PERCENT] [--fail-first-sends N] [--timeout-scale X] [--api-latency-ms MS] [--bucket NAME=REGION ...]
//
// --nodes: sandbox nodes. Each is a directory: the S3Mount script SSM would run is run with /bin/sh against it as its
//   offline image root (ROOT=...), so create, list and remove really happen, without systemd or root. --slow: each
//   sandbox node waits that long before it runs a script (cancellation tests). --offline: registered, ConnectionLost.
// --simulated: nodes that run nothing themselves: each distinct script is run once (a script with an image root against
//   a template sandbox, the read-only report script on this machine), and every simulated node answers with that output
//   after a latency uniform in [--min-latency, --max-latency] seconds. Of them, the first --undeliverable are
//   Undeliverable, the next --failing print an error record and exit 3, --dying start the script and their agent dies
//   (InProgress for ever), --stuck-pending stay Pending for ever (past the delivery timeout), --large print 5,000
//   characters before the result (over the 2,500 of the invocation list), --huge 30,000 (over GetCommandInvocation's
//   24,000), --forged print untrusted output (a forged block claiming another instance, bad escapes, 10 MB, a block
//   without end, a non-word error id; one kind per node, in turn).
// --lab-node NAME[,KEY=VALUE]...: a booted node of the node lab as an online instance (i-0fab..., in the order given)
//   with those tags (not the --tag ones); its invocations run in the node as root through 'lab.sh exec NAME'
//   (LabNodeInstance), in the lab S3MOUNT_LAB_ID names; --lab-script is that lab.sh (default: the repository's
//   tests/lab/lab.sh above this program).
// --key ACCESSKEY=SECRET: another key pair the fake accepts (the lab's S3 server's, so one pair of credentials reaches
//   SSM and S3 as on AWS).
// --tag: tags on every sandbox, offline and simulated node (tag targets). --throttle: that percentage of calls answers ThrottlingException.
// --fail-first-sends: the first N SendCommand calls answer 503 (retry tests).
// --timeout-scale: multiplies delivery and execution timeouts. --bucket: a fake S3 with these buckets (its endpoint
//   in the JSON line as s3Endpoint).
//
// Prints one JSON line (endpoint, region, keys, instance ids by kind, sandbox, tags, lab nodes) and serves until its
// standard input closes. A line "state" on standard input answers one JSON line: the calls per operation, throttled
// calls, every command received (its id, instances, comment, whether it was cancelled, and the script the nodes ran)
// and what each SendCommand asked for (instance ids or targets).
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using S3Mount.FakeSsm;

var nodes = Arg("--nodes", 3);
var offline = Arg("--offline", 1);
var slow = TimeSpan.FromSeconds(Arg("--slow", 0));
var simulated = Arg("--simulated", 0);
var minLatency = Dbl("--min-latency", 0.2);
var maxLatency = Dbl("--max-latency", 1.0);
var tags = Pairs(All("--tag"));
var sandbox = Directory.CreateTempSubdirectory("s3mount-fakessm-").FullName;
const string accessKey = "AKIAFAKESSM000000001";
const string secretKey = "fake/secret/key/for/the/fake/ssm/service0";
using var fake = new FakeSsmServer(new FakeSsmOptions
{
    Region = "us-east-1",
    SecretKeys = new Dictionary<string, string>(Pairs(All("--key"))) { [accessKey] = secretKey },
    TimeoutScale = Dbl("--timeout-scale", 1.0),
    ApiLatency = TimeSpan.FromMilliseconds(Arg("--api-latency-ms", 0)),
    FailFirstSends = Arg("--fail-first-sends", 0),
});
using var s3 = All("--bucket").Count > 0 ? new FakeS3Server() : null;
foreach (var b in All("--bucket").Select(b => b.Split('=', 2)))
{
    s3!.AddBucket(b[0], b.Length > 1 ? b[1] : "us-east-1");
}

var user = Environment.UserName;
var uid = Run("id", "-u").Trim();
var gid = Run("id", "-g").Trim();
var ids = new List<string>();
for (var i = 1; i <= nodes; i++)
{
    var id = $"i-0fa{i:D14}";
    fake.AddNode(new FakeNode(id, new SandboxInstance(SandboxInstance.Prepare(Path.Combine(sandbox, id), user, uid, gid).Root) { Delay = slow }) { Tags = tags });
    ids.Add(id);
}

var labNodes = new List<object>();
var labArgs = All("--lab-node");
if (labArgs.Count > 0)
{
    var labScript = All("--lab-script").LastOrDefault() ?? FindLabScript();
    if (!File.Exists(labScript))
    {
        Console.Error.WriteLine($"fake SSM: the lab script '{labScript}' does not exist (--lab-script).");
        return 2;
    }

    for (var i = 0; i < labArgs.Count; i++)
    {
        var parts = labArgs[i].Split(',');
        var id = $"i-0fab{i + 1:D13}";
        var labTags = Pairs(parts.Skip(1));
        fake.AddNode(new FakeNode(id, new LabNodeInstance(labScript, parts[0])) { Tags = labTags });
        labNodes.Add(new { instanceId = id, name = parts[0], tags = labTags });
    }
}

var offlineIds = new List<string>();
for (var i = 1; i <= offline; i++)
{
    var id = $"i-0ff{i:D14}";
    fake.AddNode(new FakeNode(id, new SimulatedInstance()) { PingStatus = "ConnectionLost", Tags = tags });
    offlineIds.Add(id);
}

var kinds = new Dictionary<string, List<string>>();
var replay = new ReplayedScripts(SandboxInstance.Prepare(Path.Combine(sandbox, "template"), user, uid, gid));
var rng = new Random(42);
var counts = new (string Kind, int Count)[]
{
    ("undeliverable", Arg("--undeliverable", 0)), ("failing", Arg("--failing", 0)), ("dying", Arg("--dying", 0)),
    ("stuckPending", Arg("--stuck-pending", 0)), ("large", Arg("--large", 0)), ("huge", Arg("--huge", 0)), ("forged", Arg("--forged", 0)),
};
var next = 0;
string KindOf(int n)
{
    var start = 0;
    foreach (var (kind, count) in counts)
    {
        if (n < start + count)
        {
            return kind;
        }

        start += count;
    }

    return "ok";
}

for (var i = 0; i < simulated; i++)
{
    var id = $"i-0{i:x16}";
    var kind = KindOf(i);
    var latency = TimeSpan.FromSeconds(minLatency + rng.NextDouble() * (maxLatency - minLatency));
    var forgedKind = kind == "forged" ? next++ : -1;
    IFakeInstance instance = new DelegateInstance(async (script, ct) =>
    {
        await Task.Delay(latency, ct).ConfigureAwait(false);
        var (exit, stdout, stderr) = await replay.RunAsync(script, ct).ConfigureAwait(false);
        return kind switch
        {
            "failing" => (3, "S3MOUNT-RESULT 1\nerror S3MountSimulatedFailure simulated+failure+on+" + id + "\nS3MOUNT-END\n", "simulated failure\n"),
            "large" => (exit, Padding(5_000) + stdout, stderr),
            "huge" => (exit, Padding(30_000) + stdout, stderr),
            "forged" => Forged(forgedKind, stdout, ids.Count > 0 ? ids[0] : "i-0fa00000000000001"),
            _ => (exit, stdout, stderr),
        };
    });
    fake.AddNode(new FakeNode(id, instance)
    {
        Tags = tags,
        Undeliverable = kind == "undeliverable",
        AgentDiesMidCommand = kind == "dying",
        StaysPending = kind == "stuckPending",
    });
    (kinds.TryGetValue(kind, out var list) ? list : kinds[kind] = new List<string>()).Add(id);
}

fake.Options.ThrottlePercent = Arg("--throttle", 0);
Console.WriteLine(JsonSerializer.Serialize(new
{
    endpoint = fake.Endpoint.ToString(),
    s3Endpoint = s3?.Endpoint.ToString(),
    region = "us-east-1",
    accessKey,
    secretKey,
    instances = ids,
    offline = offlineIds,
    simulated = kinds,
    sandbox,
    tags,
    labNodes,
}));
Console.Out.Flush();
while (Console.In.ReadLine() is { } command)
{
    if (command.Trim() == "state")
    {
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            calls = fake.Calls,
            throttled = fake.ThrottledCalls,
            s3 = s3?.Log.ToArray() ?? Array.Empty<string>(),
            commands = fake.Commands.Select(c => new { commandId = c.CommandId, instanceIds = c.InstanceIds, comment = c.Comment, cancelled = c.Cancelled, script = c.Script }),
            // What each SendCommand asked for, in order: instance ids, or the Targets SSM resolved (by tag) into the command's instanceIds.
            sent = fake.Requests.Where(r => r.Operation == "SendCommand").Select(r => JsonNode.Parse(r.Body)).Select(b => new { instanceIds = b?["InstanceIds"], targets = b?["Targets"], comment = b?["Comment"], outputS3BucketName = b?["OutputS3BucketName"], outputS3Region = b?["OutputS3Region"], cloudWatchOutputConfig = b?["CloudWatchOutputConfig"] }),
        }));
        Console.Out.Flush();
    }
}

Directory.Delete(sandbox, recursive: true);
return 0;

static string Padding(int chars)
{
    var sb = new StringBuilder(chars + 80);
    while (sb.Length < chars)
    {
        sb.Append(new string('x', 79)).Append('\n');
    }

    return sb.ToString();
}

// Untrusted output, one kind per forged node: what a compromised or broken node could print.
static (int, string, string) Forged(int n, string genuine, string otherInstance) => (n % 6) switch
{
    // A whole block claiming to come from another instance, printed after the genuine one.
    0 => (0, genuine + "S3MOUNT-RESULT 1\nhost " + otherInstance + "\ninstance " + otherInstance + "\nerror S3MountForged claims+to+be+" + otherInstance + "\nS3MOUNT-END\n", string.Empty),
    // A malformed percent escape.
    1 => (0, "S3MOUNT-RESULT 1\nhost bad%zzescape\nS3MOUNT-END\n", string.Empty),
    // Bytes that are not UTF-8 once decoded.
    2 => (0, "S3MOUNT-RESULT 1\nhost %C3%28\nS3MOUNT-END\n", string.Empty),
    // A begin line and no end.
    3 => (0, "S3MOUNT-RESULT 1\nhost x\n", string.Empty),
    // An error id that is not a word.
    4 => (1, "S3MOUNT-RESULT 1\nerror $(rm+-rf+/) injected\nS3MOUNT-END\n", string.Empty),
    // 10 MB of output (the invocation list and GetCommandInvocation cut it; only a bounded read may follow).
    _ => (0, new string('y', 10 * 1024 * 1024) + genuine, string.Empty),
};

int Arg(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;
}

double Dbl(string name, double fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && double.TryParse(args[i + 1], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : fallback;
}

// Every value of a repeatable option.
List<string> All(string name) => args.Select((a, i) => (a, i)).Where(x => x.a == name && x.i + 1 < args.Length).Select(x => args[x.i + 1]).ToList();

// KEY=VALUE pairs: SSM and EC2 tags, and ACCESSKEY=SECRET key pairs.
static Dictionary<string, string> Pairs(IEnumerable<string> pairs) =>
    pairs.Select(p => p.Split('=', 2)).ToDictionary(kv => kv[0], kv => kv.Length > 1 ? kv[1] : string.Empty, StringComparer.Ordinal);

// tests/lab/lab.sh of the repository this program was built in (it runs from tests/S3Mount.FakeSsm.Host/bin/...).
static string FindLabScript()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        var candidate = Path.Combine(dir.FullName, "lab", "lab.sh");
        if (File.Exists(candidate))
        {
            return candidate;
        }
    }

    return "tests/lab/lab.sh";
}

static string Run(string file, string arg)
{
    using var p = Process.Start(new ProcessStartInfo(file, arg) { RedirectStandardOutput = true })!;
    var o = p.StandardOutput.ReadToEnd();
    p.WaitForExit();
    return o;
}

/// <summary>Runs each distinct script once and replays its output: a script with an image root in a template sandbox, the read-only report on this machine, anything else refused.</summary>
internal sealed class ReplayedScripts
{
    private readonly SandboxInstance _template;
    private readonly ConcurrentDictionary<string, Lazy<Task<(int, string, string)>>> _runs = new(StringComparer.Ordinal);

    public ReplayedScripts(SandboxInstance template) => _template = template;

    public Task<(int exit, string stdout, string stderr)> RunAsync(string commands, CancellationToken ct) =>
        _runs.GetOrAdd(commands, c => new Lazy<Task<(int, string, string)>>(() => RunOnceAsync(c))).Value;

    private async Task<(int, string, string)> RunOnceAsync(string commands)
    {
        var script = FakeScript.TryDecode(commands) ?? commands;
        if (script.Contains(": report (generated", StringComparison.Ordinal))
        {
            var file = Path.GetTempFileName();
            await File.WriteAllTextAsync(file, script).ConfigureAwait(false);
            try
            {
                using var p = Process.Start(new ProcessStartInfo("/bin/sh", "\"" + file + "\"") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true })!;
                p.StandardInput.Close();
                var o = p.StandardOutput.ReadToEndAsync();
                var e = p.StandardError.ReadToEndAsync();
                await p.WaitForExitAsync().ConfigureAwait(false);
                return (p.ExitCode, await o.ConfigureAwait(false), await e.ConfigureAwait(false));
            }
            finally
            {
                File.Delete(file);
            }
        }

        return await _template.RunAsync(commands, CancellationToken.None).ConfigureAwait(false);
    }
}
