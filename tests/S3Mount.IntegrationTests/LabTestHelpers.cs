using System;
using System.Globalization;
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

    /// <summary>
    /// Inflicts <paramref name="fault"/> (bash, with $u the unit, $d the mount path and $old the main PID before) inside
    /// the node, and returns the seconds until the unit is active with another main PID, the path is a mountpoint-s3
    /// mount and a stat of it answers (polled every 50 ms in the node, so the clock is not the lab's exec overhead).
    /// </summary>
    public static async Task<double> SecondsToHealthyAsync(this LabNode node, string unit, string path, string fault, int limitSeconds)
    {
        var r = await node.ExecAsync($$"""
            u={{unit}}; d={{path}}
            old=$(systemctl show -p MainPID --value -- "$u")
            [ "$old" -gt 0 ] || { echo "not running before the fault" >&2; exit 1; }
            t0=$(date +%s%N)
            {{fault}}
            while :; do
              now=$(date +%s%N)
              [ $((now - t0)) -lt {{limitSeconds}}000000000 ] || { echo "not healthy after {{limitSeconds}} s" >&2; systemctl status --no-pager -- "$u" >&2; exit 1; }
              pid=$(systemctl show -p MainPID --value -- "$u")
              if [ "$(systemctl is-active -- "$u")" = active ] && [ "$pid" != 0 ] && [ "$pid" != "$old" ] &&
                 M="$d" awk '{for(i=7;i<=NF;i++)if($i=="-")break} $5==ENVIRON["M"]&&$(i+2)=="mountpoint-s3"{f=1} END{exit !f}' /proc/self/mountinfo &&
                 timeout 2 stat -- "$d" >/dev/null 2>&1; then
                echo $(( ($(date +%s%N) - t0) / 1000000 ))
                exit 0
              fi
              sleep 0.05
            done
            """, null, TimeSpan.FromSeconds(limitSeconds + 30), Ct);
        r.EnsureSuccess($"[{node.Name}] heal after: {fault}");
        return int.Parse(r.StdOut.Trim(), CultureInfo.InvariantCulture) / 1000.0;
    }

    /// <summary>
    /// Holds the node lock (/run/s3mount.lock) from a detached process for <paramref name="seconds"/>, with the holder
    /// record an S3Mount script would write ("OPERATION TARGET (pid N, since ...)"); returns that process's PID.
    /// </summary>
    public static async Task<string> HoldNodeLockAsync(LabNode node, string record, int seconds)
    {
        await node.ExecCheckedAsync(
            $"setsid -f flock /run/s3mount.lock sh -c 'echo \"{record} (pid $$, since now)\" >/run/s3mount.lock; exec sleep {seconds}' </dev/null >/dev/null 2>&1; " +
            $"for i in $(seq 50); do grep -qF '{record}' /run/s3mount.lock && break; sleep 0.1; done; grep -qF '{record}' /run/s3mount.lock",
            null, null, Ct);
        var pid = (await node.ExecCheckedAsync("sed -n 's/.*(pid \\([0-9]*\\),.*/\\1/p' /run/s3mount.lock", null, null, Ct)).StdOut.Trim();
        Assert.Matches("^[0-9]+$", pid);
        return pid;
    }

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
