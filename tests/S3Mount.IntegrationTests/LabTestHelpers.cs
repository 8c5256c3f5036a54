using System;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using S3Mount.Lab;

namespace S3Mount.IntegrationTests;

/// <summary>Small helpers shared by the lab tests.</summary>
internal static class LabTestHelpers
{
    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Writes a Type=forking unit running mount-s3, reloads systemd.</summary>
    public static async Task WriteMountUnitAsync(LabNode node, string unit, string arguments, string? user = null)
    {
        var text = $"""
            [Unit]
            Description=lab test {unit}

            [Service]
            Type=forking
            {(user is null ? string.Empty : "User=" + user)}
            ExecStart=/usr/bin/mount-s3 {arguments}

            [Install]
            WantedBy=multi-user.target

            """;
        await node.WriteFileAsync($"/etc/systemd/system/{unit}.service", text, "0644", Ct);
        await node.ExecCheckedAsync("systemctl daemon-reload", cancellationToken: Ct);
    }

    /// <summary>The mountinfo line of <paramref name="dir"/> as (fstype, source), or null.</summary>
    public static async Task<(string FsType, string Source)?> FindMountAsync(LabNode node, string dir)
    {
        var info = await node.ReadFileAsync("/proc/self/mountinfo", Ct);
        foreach (var line in info.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var sep = line.IndexOf(" - ", StringComparison.Ordinal);
            if (sep < 0)
            {
                continue;
            }

            var pre = line[..sep].Split(' ');
            var post = line[(sep + 3)..].Split(' ');
            if (pre.Length > 4 && pre[4] == dir && post.Length > 1)
            {
                return (post[0], post[1]);
            }
        }

        return null;
    }

    /// <summary>Stops and removes a unit, unmounts its directory (ignoring failures).</summary>
    public static Task CleanupUnitAsync(LabNode node, string unit, string dir) =>
        node.ExecAsync(
            $"systemctl disable --now {unit} 2>/dev/null; systemctl reset-failed {unit} 2>/dev/null; " +
            $"rm -f /etc/systemd/system/{unit}.service; systemctl daemon-reload; umount -l {dir} 2>/dev/null; true",
            cancellationToken: Ct);

    public static string Unique(string prefix) =>
        prefix + "-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>The field recipe's unit name: md5 over the raw "BUCKET:DIR", first 8 hex characters.</summary>
    public static string RecipeName(string bucket, string dir)
    {
        var hash = System.Security.Cryptography.MD5.HashData(System.Text.Encoding.UTF8.GetBytes(bucket + ":" + dir));
        return "mountpoint-s3-" + Convert.ToHexStringLower(hash)[..8] + ".service";
    }

    public static bool HasLine(string text, Func<string, bool> predicate) =>
        text.Split('\n').Any(predicate);
}
