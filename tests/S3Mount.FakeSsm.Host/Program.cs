// The fake SSM service as a process, for the Pester tests (and for trying the cmdlets by hand without AWS).
// Each simulated node is a sandbox directory: the S3Mount script SSM would run is run with /bin/sh against that
// directory as its offline image root (ROOT=...), so create, list and remove really happen, without systemd or root.
//
//   dotnet S3Mount.FakeSsm.Host.dll [--nodes 3] [--offline 1] [--slow SECONDS] [--sandbox-tag KEY=VALUE]...
//                                   [--lab-node NAME[,KEY=VALUE]...]... [--lab-script PATH]
//
// Prints one JSON line (endpoint, region, keys, instance ids, sandbox, lab nodes) and serves until its standard input
// closes. --slow: each sandbox node waits that long before it runs a script (cancellation tests). --sandbox-tag: a tag
// every sandbox node carries (for -Target 'tag:KEY=VALUE'). --lab-node: a booted node of the node lab as an online
// instance (i-0fab..., in the order given) with those tags; its invocations run in the node as root through
// 'lab.sh exec NAME' (LabNodeInstance), in the lab S3MOUNT_LAB_ID names; --lab-script is that lab.sh (default: the
// repository's tests/lab/lab.sh above this program). A line "state" on standard
// input answers one JSON line on standard output: the calls per operation, every command received (its id,
// instances, comment, whether it was cancelled, and the script the nodes ran) and what each SendCommand asked for
// (instance ids or targets), for the tests' assertions.
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using S3Mount.FakeSsm;

var nodes = Arg("--nodes", 3);
var offline = Arg("--offline", 1);
var slow = TimeSpan.FromSeconds(Arg("--slow", 0));
var sandbox = Directory.CreateTempSubdirectory("s3mount-fakessm-").FullName;
const string accessKey = "AKIAFAKESSM000000001";
const string secretKey = "fake/secret/key/for/the/fake/ssm/service0";
using var fake = new FakeSsmServer(new FakeSsmOptions { Region = "us-east-1", SecretKeys = new Dictionary<string, string> { [accessKey] = secretKey } });
var user = Environment.UserName;
var uid = Run("id", "-u").Trim();
var gid = Run("id", "-g").Trim();
var sandboxTags = Tags(Args("--sandbox-tag"));
var ids = new List<string>();
for (var i = 1; i <= nodes; i++)
{
    var id = $"i-0fa{i:D14}";
    fake.AddNode(new FakeNode(id, new SandboxInstance(SandboxInstance.Prepare(Path.Combine(sandbox, id), user, uid, gid).Root) { Delay = slow }) { Tags = sandboxTags });
    ids.Add(id);
}

var labNodes = new List<object>();
var labArgs = Args("--lab-node");
if (labArgs.Count > 0)
{
    var labScript = Args("--lab-script").LastOrDefault() ?? FindLabScript();
    if (!File.Exists(labScript))
    {
        Console.Error.WriteLine($"fake SSM: the lab script '{labScript}' does not exist (--lab-script).");
        return 2;
    }

    for (var i = 0; i < labArgs.Count; i++)
    {
        var parts = labArgs[i].Split(',');
        var id = $"i-0fab{i + 1:D13}";
        var tags = Tags(parts.Skip(1));
        fake.AddNode(new FakeNode(id, new LabNodeInstance(labScript, parts[0])) { Tags = tags });
        labNodes.Add(new { instanceId = id, name = parts[0], tags });
    }
}

var offlineIds = new List<string>();
for (var i = 1; i <= offline; i++)
{
    var id = $"i-0ff{i:D14}";
    fake.AddNode(new FakeNode(id, new SimulatedInstance()) { PingStatus = "ConnectionLost" });
    offlineIds.Add(id);
}

Console.WriteLine(JsonSerializer.Serialize(new
{
    endpoint = fake.Endpoint.ToString(),
    region = "us-east-1",
    accessKey,
    secretKey,
    instances = ids,
    offline = offlineIds,
    sandbox,
    sandboxTags,
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
            commands = fake.Commands.Select(c => new { commandId = c.CommandId, instanceIds = c.InstanceIds, comment = c.Comment, cancelled = c.Cancelled, script = c.Script }),
            // What each SendCommand asked for, in order: instance ids, or the Targets SSM resolved (by tag) into the command's instanceIds.
            sent = fake.Requests.Where(r => r.Operation == "SendCommand").Select(r => JsonNode.Parse(r.Body)).Select(b => new { instanceIds = b?["InstanceIds"], targets = b?["Targets"], comment = b?["Comment"] }),
        }));
        Console.Out.Flush();
    }
}

Directory.Delete(sandbox, recursive: true);
return 0;

int Arg(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out var v) ? v : fallback;
}

// Every value of a repeatable option.
List<string> Args(string name) => args.Select((a, i) => (a, i)).Where(x => x.a == name && x.i + 1 < args.Length).Select(x => args[x.i + 1]).ToList();

// KEY=VALUE pairs as SSM and EC2 tags.
static Dictionary<string, string> Tags(IEnumerable<string> pairs) =>
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
