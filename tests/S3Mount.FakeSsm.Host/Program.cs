// The fake SSM service as a process, for the Pester tests (and for trying the cmdlets by hand without AWS).
// Each simulated node is a sandbox directory: the S3Mount script SSM would run is run with /bin/sh against that
// directory as its offline image root (ROOT=...), so create, list and remove really happen, without systemd or root.
//
//   dotnet S3Mount.FakeSsm.Host.dll [--nodes 3] [--offline 1]
//
// Prints one JSON line (endpoint, region, keys, instance ids, sandbox) and serves until its standard input closes.
using System.Diagnostics;
using System.Text.Json;
using S3Mount.FakeSsm;

var nodes = Arg("--nodes", 3);
var offline = Arg("--offline", 1);
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
    fake.AddInstance(id, SandboxInstance.Prepare(Path.Combine(sandbox, id), user, uid, gid));
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
while (Console.In.Read() >= 0)
{
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
