using System;
using System.Collections.Generic;
using System.IO;
using Amazon.Runtime;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Ssm;

namespace S3Mount.Ssm.Tests;

public sealed class AwsSettingsTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "s3mount-aws-" + Guid.NewGuid().ToString("N"));
    private readonly string _named;
    private readonly string _defaults;

    public AwsSettingsTests()
    {
        Directory.CreateDirectory(_dir);
        _named = Path.Combine(_dir, "credentials");
        File.WriteAllText(_named, "[prod]\naws_access_key_id = AKIAPROD\naws_secret_access_key = prodsecret\nregion = eu-west-2\n\n[noregion]\naws_access_key_id = AKIANOREG\naws_secret_access_key = s\n");
        _defaults = Path.Combine(_dir, "default-credentials");
        File.WriteAllText(_defaults, "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = defsecret\nregion = ap-south-1\n");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private AwsSettingsResolver Resolver(Dictionary<string, string>? env = null, bool defaults = true, bool instance = true) => new(
        k => env is not null && env.TryGetValue(k, out var v) ? v : null,
        defaults ? _defaults : Path.Combine(_dir, "missing"),
        () => instance ? new BasicAWSCredentials("AKIAINSTANCE", "x") : null,
        () => instance ? "sa-east-1" : null);

    private static string Key(ResolvedAwsSettings s) => s.Credentials.GetCredentials().AccessKey;

    private static readonly Dictionary<string, string> Env = new()
    {
        ["AWS_ACCESS_KEY_ID"] = "AKIAENV", ["AWS_SECRET_ACCESS_KEY"] = "envsecret", ["AWS_REGION"] = "us-west-1",
    };

    [Fact]
    public void ExplicitKeysWinOverEverything()
    {
        var s = Resolver(Env).Resolve(new AwsSettingsRequest { AccessKey = "AKIAX", SecretKey = "y", ProfileName = "prod", ProfileLocation = _named, Credential = new AwsCredentialKeys("AKIAC", "c"), Region = "eu-north-1" });
        Assert.Equal("AKIAX", Key(s));
        Assert.Equal("eu-north-1", s.Region);
        Assert.Contains("-AccessKey", s.CredentialSource);
        Assert.Equal("-Region", s.RegionSource);
        Assert.Contains("eu-north-1", s.Describe());
    }

    [Fact]
    public void NamedProfileComesNextAndGivesItsRegion()
    {
        var s = Resolver(Env).Resolve(new AwsSettingsRequest { ProfileName = "prod", ProfileLocation = _named, Credential = new AwsCredentialKeys("AKIAC", "c"), StoredRegion = null });
        Assert.Equal("AKIAPROD", Key(s));
        Assert.Equal("eu-west-2", s.Region);
        Assert.Contains("prod", s.CredentialSource);
        Assert.Contains("prod", s.RegionSource);
    }

    [Fact]
    public void AMissingNamedProfileIsAnErrorNeverAFallback()
    {
        var ex = Assert.Throws<S3MountException>(() => Resolver(Env).Resolve(new AwsSettingsRequest { ProfileName = "nope", ProfileLocation = _named }));
        Assert.Equal(SsmErrorIds.SsmProfileNotFound, ex.ErrorId);
        Assert.Equal(S3MountErrorKind.ObjectNotFound, ex.Kind);
        Assert.Equal("nope", ex.Target);
        Assert.Contains("nope", ex.Message);
    }

    [Fact]
    public void CredentialParameterThenStoredCredentialsThenEnvironment()
    {
        var r = Resolver(Env);
        Assert.Equal("AKIAC", Key(r.Resolve(new AwsSettingsRequest { Credential = new AwsCredentialKeys("AKIAC", "c"), StoredCredentials = new AwsCredentialKeys("AKIAS", "s") })));
        Assert.Equal("AKIASDK", Key(r.Resolve(new AwsSettingsRequest { Credential = new BasicAWSCredentials("AKIASDK", "s") })));
        var stored = r.Resolve(new AwsSettingsRequest { StoredCredentials = new AwsCredentialKeys("AKIAS", "s"), StoredRegion = "ca-central-1" });
        Assert.Equal("AKIAS", Key(stored));
        Assert.Equal("ca-central-1", stored.Region);
        Assert.Equal("$StoredAWSRegion", stored.RegionSource);
        var env = r.Resolve(new AwsSettingsRequest());
        Assert.Equal("AKIAENV", Key(env));
        Assert.Contains("environment", env.CredentialSource);
        Assert.Equal("ap-south-1", env.Region); // the default profile's region comes before the environment's
    }

    [Fact]
    public void StoredCredentialsMayNameAProfile()
    {
        var s = Resolver(Env).Resolve(new AwsSettingsRequest { StoredCredentials = "prod", ProfileLocation = _named });
        Assert.Equal("AKIAPROD", Key(s));
        Assert.Equal("eu-west-2", s.Region);
        Assert.Throws<S3MountException>(() => Resolver(Env).Resolve(new AwsSettingsRequest { StoredCredentials = "ghost", ProfileLocation = _named }));
    }

    [Fact]
    public void DefaultProfileThenInstanceRole()
    {
        var d = Resolver(new Dictionary<string, string>()).Resolve(new AwsSettingsRequest());
        Assert.Equal("AKIADEFAULT", Key(d));
        Assert.Equal("ap-south-1", d.Region);
        Assert.Contains("default profile", d.CredentialSource);

        var i = Resolver(new Dictionary<string, string>(), defaults: false).Resolve(new AwsSettingsRequest());
        Assert.Equal("AKIAINSTANCE", Key(i));
        Assert.Equal("sa-east-1", i.Region);
        Assert.Contains("instance", i.CredentialSource);
        Assert.Equal("instance metadata", i.RegionSource);
    }

    [Fact]
    public void RegionFromEnvironmentWhenNoProfileHasOne()
    {
        var s = Resolver(new Dictionary<string, string> { ["AWS_DEFAULT_REGION"] = "us-east-2" }, defaults: false).Resolve(new AwsSettingsRequest { ProfileName = "noregion", ProfileLocation = _named });
        Assert.Equal("AKIANOREG", Key(s));
        Assert.Equal("us-east-2", s.Region);
        Assert.Equal("environment variable AWS_DEFAULT_REGION", s.RegionSource);
    }

    [Fact]
    public void NothingFoundIsAClearError()
    {
        var r = Resolver(new Dictionary<string, string>(), defaults: false, instance: false);
        Assert.Equal(SsmErrorIds.SsmCredentialsMissing, Assert.Throws<S3MountException>(() => r.Resolve(new AwsSettingsRequest())).ErrorId);
        Assert.Equal(SsmErrorIds.SsmRegionMissing, Assert.Throws<S3MountException>(() => r.Resolve(new AwsSettingsRequest { AccessKey = "a", SecretKey = "b" })).ErrorId);
        Assert.Equal(SsmErrorIds.SsmCredentialsMissing, Assert.Throws<S3MountException>(() => r.Resolve(new AwsSettingsRequest { AccessKey = "a", Region = "x" })).ErrorId);
        Assert.Equal(SsmErrorIds.SsmEndpointInvalid, Assert.Throws<S3MountException>(() => r.Resolve(new AwsSettingsRequest { AccessKey = "a", SecretKey = "b", Region = "r", EndpointUrl = "ftp://x" })).ErrorId);
    }

    [Fact]
    public void EndpointOverrideIsKept()
    {
        var s = Resolver(Env).Resolve(new AwsSettingsRequest { EndpointUrl = "https://vpce-123.ssm.us-west-1.vpce.amazonaws.com" });
        Assert.Equal(new Uri("https://vpce-123.ssm.us-west-1.vpce.amazonaws.com"), s.Endpoint);
        Assert.Equal("-EndpointUrl", s.EndpointSource);
    }

    [Fact]
    public void EndpointComesFromTheSdkEnvironmentVariablesLikeAwsTools()
    {
        // The AWS SDKs' service-specific endpoints: -EndpointUrl, then AWS_ENDPOINT_URL_SSM, then AWS_ENDPOINT_URL.
        var env = new Dictionary<string, string>(Env) { ["AWS_ENDPOINT_URL"] = "http://127.0.0.1:4566", ["AWS_ENDPOINT_URL_SSM"] = "http://127.0.0.1:9001/" };
        var s = Resolver(env).Resolve(new AwsSettingsRequest());
        Assert.Equal(new Uri("http://127.0.0.1:9001/"), s.Endpoint);
        Assert.Equal("environment variable AWS_ENDPOINT_URL_SSM", s.EndpointSource);
        Assert.Contains("endpoint http://127.0.0.1:9001/ from environment variable AWS_ENDPOINT_URL_SSM", s.Describe());

        env.Remove("AWS_ENDPOINT_URL_SSM");
        s = Resolver(env).Resolve(new AwsSettingsRequest());
        Assert.Equal(new Uri("http://127.0.0.1:4566"), s.Endpoint);
        Assert.Equal("environment variable AWS_ENDPOINT_URL", s.EndpointSource);

        s = Resolver(env).Resolve(new AwsSettingsRequest { EndpointUrl = "https://vpce-1.ssm.us-west-1.vpce.amazonaws.com" });
        Assert.Equal(new Uri("https://vpce-1.ssm.us-west-1.vpce.amazonaws.com"), s.Endpoint);

        env["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true";
        s = Resolver(env).Resolve(new AwsSettingsRequest());
        Assert.Null(s.Endpoint);
        Assert.Null(s.EndpointSource);
        Assert.DoesNotContain("endpoint", s.Describe());

        var bad = new Dictionary<string, string>(Env) { ["AWS_ENDPOINT_URL_SSM"] = "ssm.internal:443" };
        var e = Assert.Throws<S3MountException>(() => Resolver(bad).Resolve(new AwsSettingsRequest()));
        Assert.Equal(SsmErrorIds.SsmEndpointInvalid, e.ErrorId);
        Assert.Contains("AWS_ENDPOINT_URL_SSM", e.Message);
    }
}
