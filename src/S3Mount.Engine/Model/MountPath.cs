using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using S3Mount.Engine.Errors;

namespace S3Mount.Engine.Model;

/// <summary>Rules for the mount directory and the other absolute paths a unit names.</summary>
public static class MountPath
{
    /// <summary>Directories a mount may not be at or under (they belong to the OS).</summary>
    public static IReadOnlyList<string> SystemDirectories { get; } = new[]
    {
        "/proc", "/sys", "/dev", "/run", "/var/run", "/boot", "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/var/lib",
    };

    /// <summary>
    /// Directories that hold users' or the system's data: a mount exactly there would hide it (and a cache directory
    /// there would be wiped by mount-s3). Below them is fine (<c>/mnt/s3</c>, <c>/home/ec2-user/s3</c>).
    /// </summary>
    public static IReadOnlyList<string> ReservedDirectories { get; } = new[]
    {
        "/home", "/root", "/tmp", "/var", "/var/tmp", "/var/log", "/var/cache", "/var/spool", "/var/mail", "/var/opt", "/var/www",
        "/mnt", "/media", "/opt", "/srv", "/snap", "/lost+found",
    };

    /// <summary>
    /// Validates and normalises a mount directory: absolute, repeated and trailing slashes removed,
    /// no <c>.</c> or <c>..</c> segment, not <c>/</c>, not at or under a system directory, no control character.
    /// </summary>
    public static string Normalize(string? path, string what = "The mount path") => NormalizeAbsolute(path, what, ErrorIds.PathInvalid, refuseSystem: true);

    /// <summary>The same rules for other paths (cache directory, log directory, CA bundle); system directories are allowed where <paramref name="refuseSystem"/> is false.</summary>
    public static string NormalizeAbsolute(string? path, string what, string errorId, bool refuseSystem)
    {
        if (string.IsNullOrEmpty(path))
        {
            throw Fail(errorId, $"{what} is empty: give an absolute directory such as /mnt/s3.", path);
        }

        TextRules.EnsureNoControl(path, what);
        if (path![0] != '/')
        {
            throw Fail(errorId, $"{what} '{path}' is relative: give an absolute path such as /mnt/s3.", path);
        }

        var segments = path.Split(new[] { '/' }, StringSplitOptions.RemoveEmptyEntries);
        if (segments.Any(s => s == "." || s == ".."))
        {
            throw Fail(errorId, $"{what} '{path}' has a '.' or '..' segment: give the path without them.", path);
        }

        var normal = "/" + string.Join("/", segments);
        if (normal == "/")
        {
            throw Fail(errorId, $"{what} may not be '/'.", path);
        }

        if (char.IsWhiteSpace(normal[normal.Length - 1]) || char.IsWhiteSpace(normal[0]) || segments.Any(s => s.Trim().Length == 0))
        {
            throw Fail(errorId, $"{what} '{path}' ends with white space or has a segment of white space only; systemd strips it from unit values.", path);
        }

        if (normal.EndsWith("\\", StringComparison.Ordinal))
        {
            throw Fail(errorId, $"{what} '{path}' ends with a backslash, which systemd reads as a line continuation.", path);
        }

        if (Encoding.UTF8.GetByteCount(normal) > 4000)
        {
            throw Fail(errorId, $"{what} is longer than 4000 bytes.", path);
        }

        if (refuseSystem)
        {
            var sys = SystemDirectories.FirstOrDefault(d => IsAtOrUnder(normal, d));
            if (sys is not null)
            {
                throw Fail(errorId, $"{what} '{normal}' is at or under the system directory {sys}: choose a directory such as /mnt/<name> or /data/<name>.", path);
            }

            if (ReservedDirectories.Contains(normal, StringComparer.Ordinal) || (segments.Length == 2 && segments[0] == "home"))
            {
                throw Fail(ErrorIds.PathReserved, $"{what} '{normal}' would hide what is already there ({(segments.Length == 2 ? "a home directory" : "a directory users and the system keep data in")}): choose a directory below it, such as {normal}/s3.", path);
            }
        }

        return normal;
    }

    /// <summary>True when <paramref name="path"/> equals <paramref name="dir"/> or lies below it (both normalised).</summary>
    public static bool IsAtOrUnder(string path, string dir) =>
        path == dir || path.StartsWith(dir + "/", StringComparison.Ordinal);

    /// <summary>Escapes a path the way the kernel writes it in /proc/self/mountinfo (space, tab, newline, backslash as octal).</summary>
    public static string ToMountInfo(string path)
    {
        var sb = new StringBuilder(path.Length);
        foreach (var c in path)
        {
            sb.Append(c switch
            {
                ' ' => "\\040",
                '\t' => "\\011",
                '\n' => "\\012",
                '\\' => "\\134",
                _ => c.ToString(),
            });
        }

        return sb.ToString();
    }

    private static S3MountException Fail(string id, string message, string? value) =>
        new(id, S3MountErrorKind.InvalidArgument, message, value);
}
