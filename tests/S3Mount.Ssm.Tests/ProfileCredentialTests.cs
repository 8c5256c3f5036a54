using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Amazon.SimpleSystemsManagement.Model;
using S3Mount.Engine.Errors;
using S3Mount.Engine.Ssm;
using S3Mount.FakeSsm;

namespace S3Mount.Ssm.Tests;

/// <summary>
/// -ProfileName the SDK way: static keys, credential_process, assume-role with source_profile and web identity resolve to
/// credentials that the fake SSM verifies in full (SigV4 with the secret it knows), the assumed role's from a local
/// fake STS. Not parallel with itself: AWS_ENDPOINT_URL_STS points the SDK at the fake STS for this process.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
[Collection(nameof(ProfileCredentialTests))]
[CollectionDefinition(nameof(ProfileCredentialTests), DisableParallelization = true)]
public sealed class ProfileCredentialTests : IDisposable
{
    private const string StaticKey = "AKIAPROFILESTATIC001";
    private const string StaticSecret = "static/profile/secret/0000000000000000000";
    private const string ProcessKey = "ASIAPROFILEPROCESS01";
    private const string ProcessSecret = "process/profile/secret/000000000000000000";
    private readonly string _dir = Directory.CreateTempSubdirectory("s3mount-profiles-").FullName;
    private readonly string _file;
    private readonly FakeStsServer _sts = new();
    private readonly FakeSsmServer _ssm;

    public ProfileCredentialTests()
    {
        var script = Path.Combine(_dir, "credentials.sh");
        File.WriteAllText(script, "#!/bin/sh\nprintf '%s' '{\"Version\": 1, \"AccessKeyId\": \"" + ProcessKey + "\", \"SecretAccessKey\": \"" + ProcessSecret + "\", \"SessionToken\": \"process-token\", \"Expiration\": \"2099-01-01T00:00:00Z\"}'\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var failing = Path.Combine(_dir, "failing.sh");
        File.WriteAllText(failing, "#!/bin/sh\necho 'no credentials for you' >&2\nexit 7\n");
        File.SetUnixFileMode(failing, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var token = Path.Combine(_dir, "token");
        File.WriteAllText(token, "eyJ.fake.web-identity-token");
        _file = Path.Combine(_dir, "credentials");
        File.WriteAllText(_file,
            "[static]\naws_access_key_id = " + StaticKey + "\naws_secret_access_key = " + StaticSecret + "\nregion = us-east-1\n\n" +
            "[process]\ncredential_process = " + script + "\nregion = us-east-1\n\n" +
            "[broken]\ncredential_process = " + failing + "\nregion = us-east-1\n\n" +
            "[assumer]\nrole_arn = arn:aws:iam::123456789012:role/s3mount-admin\nsource_profile = static\nrole_session_name = s3mount-test\nregion = us-east-1\n\n" +
            "[web]\nrole_arn = arn:aws:iam::123456789012:role/s3mount-ci\nweb_identity_token_file = " + token + "\nrole_session_name = s3mount-ci\nregion = us-east-1\n");
        var secrets = new Dictionary<string, string> { [StaticKey] = StaticSecret, [ProcessKey] = ProcessSecret };
        for (var i = 1; i <= 20; i++)
        {
            secrets[FakeStsServer.IssuedKey(i)] = FakeStsServer.SecretKey;
        }

        _ssm = new FakeSsmServer(new FakeSsmOptions { SecretKeys = secrets });
        Environment.SetEnvironmentVariable("AWS_ENDPOINT_URL_STS", _sts.Endpoint.ToString());
    }

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("AWS_ENDPOINT_URL_STS", null);
        _ssm.Dispose();
        _sts.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private ResolvedAwsSettings Resolve(string profile) =>
        new AwsSettingsResolver(_ => null, Path.Combine(_dir, "none"), () => null, () => null).Resolve(new AwsSettingsRequest
        {
            ProfileName = profile,
            ProfileLocation = _file,
            EndpointUrl = _ssm.Endpoint.ToString(),
        });

    private async Task<string> CallSsm(ResolvedAwsSettings settings)
    {
        await settings.EnsureCredentialsAsync();
        using var client = new SsmClient(settings);
        await foreach (var _ in client.ListCommandsAsync(new ListCommandsRequest(), CancellationToken.None))
        {
        }

        return _ssm.Requests.Last().Authorization!;
    }

    [Fact]
    public async Task StaticKeysOfAProfileSignCalls()
    {
        var s = Resolve("static");
        Assert.Contains("profile 'static'", s.CredentialSource);
        Assert.Equal("us-east-1", s.Region);
        Assert.Contains("Credential=" + StaticKey + "/", await CallSsm(s));
    }

    [Fact]
    public async Task CredentialProcessRunsTheProfilesScript()
    {
        var auth = await CallSsm(Resolve("process"));
        Assert.Contains("Credential=" + ProcessKey + "/", auth);
        Assert.Contains("x-amz-security-token", auth);
    }

    [Fact]
    public async Task AFailingCredentialProcessIsACredentialsErrorBeforeAnythingIsSent()
    {
        var s = Resolve("broken");
        var calls = _ssm.TotalCalls;
        var e = await Assert.ThrowsAsync<S3MountException>(() => s.EnsureCredentialsAsync());
        Assert.Equal(SsmErrorIds.SsmCredentialsMissing, e.ErrorId);
        Assert.Equal(S3MountErrorKind.SecurityError, e.Kind);
        Assert.Equal(calls, _ssm.TotalCalls);
    }

    [Fact]
    public async Task AssumeRoleWithASourceProfileCallsStsWithTheSourceKeys()
    {
        var s = Resolve("assumer");
        var auth = await CallSsm(s);
        var call = Assert.Single(_sts.Calls);
        Assert.Equal("AssumeRole", call.Action);
        Assert.Equal("arn:aws:iam::123456789012:role/s3mount-admin", call.RoleArn);
        Assert.Equal("s3mount-test", call.RoleSessionName);
        Assert.Contains("Credential=" + StaticKey + "/", call.Authorization);
        Assert.Contains("Credential=" + call.AccessKeyIssued + "/", auth);
        Assert.Contains("x-amz-security-token", auth);
    }

    [Fact]
    public async Task WebIdentityTradesTheTokenFileAtSts()
    {
        var auth = await CallSsm(Resolve("web"));
        var call = Assert.Single(_sts.Calls);
        Assert.Equal("AssumeRoleWithWebIdentity", call.Action);
        Assert.Equal("eyJ.fake.web-identity-token", call.WebIdentityToken);
        Assert.Contains("Credential=" + call.AccessKeyIssued + "/", auth);
    }
}
