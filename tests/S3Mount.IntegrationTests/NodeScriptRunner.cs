using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using S3Mount.Engine.Node;
using S3Mount.Engine.Scripts;
using S3Mount.Lab;

namespace S3Mount.IntegrationTests;

/// <summary>
/// Runs an engine <see cref="NodeScript"/> on a lab node the way the local cmdlet and SSM do: the script text is
/// copied into the node as a file (byte for byte, with lab.sh cp-in) and run as root with /bin/sh (dash), stdin
/// closed. Never piped into sh's stdin.
/// </summary>
internal static class NodeScriptRunner
{
    public static Task<ScriptOutput> RunScriptAsync(this LabNode node, NodeScript script, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        node.RunScriptAsync(script, null, timeout, cancellationToken);

    /// <summary>The same, with environment variables for the script (for example S3M_LOCK_SECONDS).</summary>
    public static async Task<ScriptOutput> RunScriptAsync(this LabNode node, NodeScript script, IReadOnlyDictionary<string, string>? environment, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var id = Guid.NewGuid().ToString("N")[..12];
        var host = Path.Combine(Path.GetTempPath(), "s3mount-" + id + ".sh");
        var inNode = "/tmp/s3mount-" + id + ".sh";
        await File.WriteAllTextAsync(host, script.Text, new UTF8Encoding(false), cancellationToken);
        try
        {
            (await node.Lab.RunLabAsync(["cp-in", node.Name, host, inNode, "0600"], null, TimeSpan.FromMinutes(1), cancellationToken))
                .EnsureSuccess($"[{node.Name}] cp-in {inNode}");
            string[] argv = environment is null ? ["/bin/sh", inNode] : ["env", .. environment.Select(e => e.Key + "=" + e.Value), "/bin/sh", inNode];
            var r = await node.RunAsync(argv, null, timeout ?? TimeSpan.FromMinutes(3), cancellationToken);
            return new ScriptOutput(r.ExitCode, r.StdOut, r.StdErr);
        }
        finally
        {
            File.Delete(host);
            await node.RunAsync(["rm", "-f", "--", inNode], null, null, CancellationToken.None);
        }
    }

    public static async Task<CreateResult> CreateAsync(this LabNode node, CreateRequest request, CancellationToken ct = default) =>
        NodeResultParser.Create((await node.RunScriptAsync(NodeOperations.Create(request), null, ct)).Block());

    public static async Task<NodeResult<MountService>> ListAsync(this LabNode node, string[]? names = null, string? root = null, CancellationToken ct = default) =>
        NodeResultParser.Services((await node.RunScriptAsync(NodeOperations.List(names, root), null, ct)).Block());

    public static async Task<MountService> GetAsync(this LabNode node, string name, CancellationToken ct = default)
    {
        var r = await node.ListAsync([name], null, ct);
        Assert.Empty(r.Failures);
        return Assert.Single(r.Items);
    }

    public static async Task<NodeResult<MountService>> ControlAsync(this LabNode node, ServiceAction action, string name, CancellationToken ct = default) =>
        NodeResultParser.Services((await node.RunScriptAsync(NodeOperations.Control(action, [name], 30), null, ct)).Block());

    public static async Task<NodeResult<RepairResult>> RepairAsync(this LabNode node, string name, bool force = false, CancellationToken ct = default) =>
        NodeResultParser.Repairs((await node.RunScriptAsync(NodeOperations.Repair([name], force, 30), null, ct)).Block());

    public static async Task<NodeResult<RemoveResult>> RemoveAsync(this LabNode node, string name, bool force = false, bool removeDirectory = false, string? root = null, CancellationToken ct = default) =>
        NodeResultParser.Removals((await node.RunScriptAsync(NodeOperations.Remove([name], force, removeDirectory, root), null, ct)).Block());

    /// <summary>Runs bash in the node and returns trimmed stdout (throws unless it exits 0).</summary>
    public static async Task<string> ShAsync(this LabNode node, string script, CancellationToken ct = default) =>
        (await node.ExecCheckedAsync(script, null, null, ct)).StdOut.Trim();

    public static Task<string> MainPidAsync(this LabNode node, string unit, CancellationToken ct = default) =>
        node.ShAsync($"systemctl show -p MainPID --value -- {unit}", ct);

    /// <summary>
    /// Everything a node operation may touch, as text to compare: the unit directories, fuse.conf, the health check
    /// program's directory and the given
    /// directories (every entry with type, mode, owner, link target; every file with its size, mtime and SHA-256;
    /// directories without mtime, since creating and deleting temp files changes it), plus the mount table's
    /// mount points and sources.
    /// </summary>
    public static Task<string> SnapshotAsync(this LabNode node, CancellationToken ct, params string[] dirs)
    {
        var roots = string.Join(" ", new[] { "/etc/systemd/system", "/usr/lib/systemd/system", "/etc/fuse.conf", "/usr/local/libexec" }.Concat(dirs).Select(d => NodeScript.ShellQuote(d)));
        return node.ShAsync(
            $"for r in {roots}; do [ -e \"$r\" ] || [ -L \"$r\" ] || {{ echo \"absent $r\"; continue; }}; " +
            "find \"$r\" -xdev -type d -printf 'd %p %m %U:%G\\n'; " +
            "find \"$r\" -xdev ! -type d -printf '%y %p %m %U:%G %s %T@ ->%l\\n'; " +
            "find \"$r\" -xdev -type f -exec sha256sum -- {} +; done | LC_ALL=C sort; " +
            "awk '{for(i=7;i<=NF;i++)if($i==\"-\")break; print \"mount\", $5, $(i+1), $(i+2)}' /proc/self/mountinfo | LC_ALL=C sort",
            ct);
    }
}
