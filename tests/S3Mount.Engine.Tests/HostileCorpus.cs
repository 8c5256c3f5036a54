using S3Mount.Engine.Errors;
using S3Mount.Engine.Model;

namespace S3Mount.Engine.Tests;

/// <summary>
/// Inputs an attacker or a typo could send; each must be refused with its error id before anything is written.
/// Shared by the offline tests here and the node-lab tests, which check the node stays byte-identical.
/// </summary>
public static class HostileCorpus
{
    public sealed record Case(string Name, Func<MountSpec> Build, string ErrorId)
    {
        public override string ToString() => Name;
    }

    private static MountSpec Ok => new() { Bucket = "my-bucket", Path = "/mnt/s3" };

    private static Func<MountSpec> Path(string p) => () => MountSpec.Create("my-bucket", p);

    private static Func<MountSpec> Bucket(string b) => () => MountSpec.Create(b, "/mnt/s3");

    private static Func<MountSpec> Extra(params string[] a) => () => Ok with { ExtraArguments = a };

    private static Func<MountSpec> Opt(MountOptions o) => () => Ok with { Options = o };

    public static IReadOnlyList<Case> All { get; } = new List<Case>
    {
        new("path with newline", Path("/mnt/a\nb"), ErrorIds.ControlCharacter),
        new("path with carriage return", Path("/mnt/a\rExecStartPre=/bin/id"), ErrorIds.ControlCharacter),
        new("path with newline unit injection", Path("/mnt/x\n[Service]\nExecStartPre=/bin/sh -c id"), ErrorIds.ControlCharacter),
        new("path with tab", Path("/mnt/a\tb"), ErrorIds.ControlCharacter),
        new("path with escape char", Path("/mnt/a\u001b[31m"), ErrorIds.ControlCharacter),
        new("path with NUL", Path("/mnt/a\0b"), ErrorIds.ControlCharacter),
        new("path with line separator", Path("/mnt/a\u2028b"), ErrorIds.ControlCharacter),
        new("relative path", Path("mnt/s3"), ErrorIds.PathInvalid),
        new("dot path", Path("."), ErrorIds.PathInvalid),
        new("dotdot escape to etc", Path("/mnt/../etc/cron.d"), ErrorIds.PathInvalid),
        new("dotdot at end", Path("/mnt/s3/.."), ErrorIds.PathInvalid),
        new("single dot segment", Path("/mnt/./s3"), ErrorIds.PathInvalid),
        new("root", Path("/"), ErrorIds.PathInvalid),
        new("double slash root", Path("//"), ErrorIds.PathInvalid),
        new("empty path", Path(""), ErrorIds.PathInvalid),
        new("etc", Path("/etc"), ErrorIds.PathInvalid),
        new("under etc", Path("/etc/systemd/system"), ErrorIds.PathInvalid),
        new("proc", Path("/proc/self"), ErrorIds.PathInvalid),
        new("sys", Path("/sys/fs/fuse"), ErrorIds.PathInvalid),
        new("dev", Path("/dev/fuse"), ErrorIds.PathInvalid),
        new("run", Path("/run/systemd"), ErrorIds.PathInvalid),
        new("boot", Path("/boot"), ErrorIds.PathInvalid),
        new("usr", Path("/usr/bin"), ErrorIds.PathInvalid),
        new("bin", Path("/bin"), ErrorIds.PathInvalid),
        new("sbin", Path("/sbin/x"), ErrorIds.PathInvalid),
        new("lib64", Path("/lib64/x"), ErrorIds.PathInvalid),
        new("var lib", Path("/var/lib/docker"), ErrorIds.PathInvalid),
        new("trailing space", Path("/mnt/s3 "), ErrorIds.PathInvalid),
        new("trailing backslash continuation", Path("/mnt/s3\\"), ErrorIds.PathInvalid),
        new("bucket with shell substitution", Bucket("$(reboot)"), ErrorIds.BucketInvalid),
        new("bucket with backticks", Bucket("`id`"), ErrorIds.BucketInvalid),
        new("bucket with semicolon", Bucket("my-bucket;rm -rf /"), ErrorIds.BucketInvalid),
        new("bucket with quotes", Bucket("my'bucket\""), ErrorIds.BucketInvalid),
        new("bucket with space", Bucket("my bucket"), ErrorIds.BucketInvalid),
        new("bucket with newline", Bucket("my-bucket\nExecStart=/bin/id"), ErrorIds.ControlCharacter),
        new("bucket uppercase", Bucket("MyBucket"), ErrorIds.BucketInvalid),
        new("bucket too short", Bucket("ab"), ErrorIds.BucketInvalid),
        new("bucket ip", Bucket("10.0.0.1"), ErrorIds.BucketInvalid),
        new("bucket option-looking", Bucket("--foreground"), ErrorIds.BucketInvalid),
        new("bucket bad arn", Bucket("arn:aws:s3:::my-bucket"), ErrorIds.BucketInvalid),
        new("bucket percent specifier", Bucket("my-%n-bucket"), ErrorIds.BucketInvalid),
        new("uri with prefix and prefix", () => MountSpec.Create("s3://my-bucket/a/", "/mnt/s3", "b/"), ErrorIds.PrefixInvalid),
        new("prefix without slash", () => Ok with { Prefix = "logs" }, ErrorIds.PrefixInvalid),
        new("prefix with newline", () => Ok with { Prefix = "a\n/" }, ErrorIds.ControlCharacter),
        new("extra positional bucket", Extra("other-bucket"), ErrorIds.ExtraArgumentInvalid),
        new("extra positional path", Extra("/etc"), ErrorIds.ExtraArgumentInvalid),
        new("extra separated value", Extra("--cache", "/"), ErrorIds.ExtraArgumentInvalid),
        new("extra modelled option", Extra("--foreground"), ErrorIds.ExtraArgumentInvalid),
        new("extra modelled option with value", Extra("--endpoint-url=http://evil"), ErrorIds.ExtraArgumentInvalid),
        new("extra prefix", Extra("--prefix=../"), ErrorIds.ExtraArgumentInvalid),
        new("extra short option", Extra("-f"), ErrorIds.ExtraArgumentInvalid),
        new("extra shell injection", Extra("--x;id"), ErrorIds.ExtraArgumentInvalid),
        new("extra newline", Extra("--x=a\nb"), ErrorIds.ControlCharacter),
        new("extra help", Extra("--help"), ErrorIds.ExtraArgumentInvalid),
        new("user injection", () => Ok with { User = "root\nExecStartPre=/bin/id" }, ErrorIds.ControlCharacter),
        new("user with shell", () => Ok with { User = "$(id)" }, ErrorIds.UserInvalid),
        new("group with space", () => Ok with { Group = "wheel users" }, ErrorIds.UserInvalid),
        new("env injection", () => Ok with { Environment = new[] { "A=1\nExecStartPre=/bin/id" } }, ErrorIds.ControlCharacter),
        new("env bad name", () => Ok with { Environment = new[] { "A-B=1" } }, ErrorIds.EnvironmentInvalid),
        new("allow root and other", Opt(new MountOptions { AllowRoot = true, AllowOther = true }), ErrorIds.OptionConflict),
        new("read-only and allow-delete", Opt(new MountOptions { ReadOnly = true, AllowDelete = true }), ErrorIds.OptionConflict),
        new("foreground service", Opt(new MountOptions { Foreground = true }), ErrorIds.OptionConflict),
        new("no-log and debug", Opt(new MountOptions { NoLog = true, DebugLogging = true }), ErrorIds.OptionConflict),
        new("kms key without sse", Opt(new MountOptions { SseKmsKeyId = "arn:aws:kms:us-east-1:111122223333:key/k" }), ErrorIds.OptionConflict),
        new("cache size without cache", Opt(new MountOptions { MaxCacheSizeMiB = 5 }), ErrorIds.OptionConflict),
        new("cache inside mount", Opt(new MountOptions { CacheDirectory = "/mnt/s3/.cache" }), ErrorIds.OptionConflict),
        new("cache at etc", Opt(new MountOptions { CacheDirectory = "/etc/s3" }), ErrorIds.OptionInvalid),
        new("uid zero", Opt(new MountOptions { Uid = 0 }), ErrorIds.OptionInvalid),
        new("mode 4777", Opt(new MountOptions { DirMode = Convert.ToInt32("4777", 8) }), ErrorIds.OptionInvalid),
        new("region injection", Opt(new MountOptions { BucketRegion = "us-east-1 --foreground" }), ErrorIds.OptionInvalid),
        new("endpoint with newline", Opt(new MountOptions { S3EndpointUrl = "http://x\n" }), ErrorIds.ControlCharacter),
        new("log directory relative", Opt(new MountOptions { LogDirectory = "logs" }), ErrorIds.OptionInvalid),
    };
}
