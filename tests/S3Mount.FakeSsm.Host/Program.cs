// The fake SSM service as a process, for the Pester tests (and for trying the cmdlets by hand without AWS).
// Each simulated node is a sandbox directory: the S3Mount script SSM would run is run with /bin/sh against that
// directory as its offline image root (ROOT=...), so create, list and remove really happen, without systemd or root.
//
//   dotnet S3Mount.FakeSsm.Host.dll [--nodes 3] [--offline 1] [--slow SECONDS] [--tag KEY=VALUE]...
//
// Prints one JSON line (endpoint, region, keys, instance ids, sandbox) and serves until its standard input closes.
// --slow: each sandbox node waits that long before it runs a script (cancellation tests). --tag: a tag every node has
// (SSM targets select them by tag:KEY=VALUE). A line "state" on standard
// input answers one JSON line on standard output: the calls per operation and every command received (its id,
// instances, comment, whether it was cancelled, and the script the nodes ran), for the tests' assertions.
using System.Diagnostics;
using System.Text.Json;
using S3Mount.FakeSsm;

var nodes = Arg("--nodes", 3);
var offline = Arg("--offline", 1);
var slow = TimeSpan.FromSeconds(Arg("--slow", 0));
var tags = new Dictionary<string, string>(StringComparer.Ordinal);
for (var t = Array.IndexOf(args, "--tag"); t >= 0 && t + 1 < args.Length; t = Array.IndexOf(args, "--tag", t + 2))
{
    var eq = args[t + 1].IndexOf('=');
    if (eq > 0)
    {
        tags[args[t + 1][..eq]] = args[t + 1][(eq + 1)..];
    }
}
var sandbox = Directory.CreateTempSubdirectory("s3mount-fakessm-").FullName;
const string accessKey = "AKIAFAKESSM000000001";
const string secretKey = "fake/secret/key/for/the/fake/ssm/service0";
using var fake = new FakeSsmServer(new FakeSsmOptions { Region = "us-east-1", SecretKeys = new Dictionary<string, string> { [accessKey] = secretKey } });
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

static string Run(string file, string arg)
{
    using var p = Process.Start(new ProcessStartInfo(file, arg) { RedirectStandardOutput = true })!;
    var o = p.StandardOutput.ReadToEnd();
    p.WaitForExit();
    return o;
}
