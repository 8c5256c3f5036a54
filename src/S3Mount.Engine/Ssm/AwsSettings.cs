using System;
using Amazon.Runtime;
using Amazon.Runtime.CredentialManagement;
using S3Mount.Engine.Errors;

namespace S3Mount.Engine.Ssm;

/// <summary>Access keys given as plain strings (our own type, so cmdlets never expose SDK types).</summary>
public sealed class AwsCredentialKeys
{
    public AwsCredentialKeys(string accessKey, string secretKey, string? sessionToken = null)
    {
        AccessKey = accessKey;
        SecretKey = secretKey;
        SessionToken = sessionToken;
    }

    public string AccessKey { get; }
    public string SecretKey { get; }
    public string? SessionToken { get; }

    public override string ToString() => "AwsCredentialKeys(" + AccessKey + ")";
}

/// <summary>What a cmdlet was given, in AWS.Tools terms (<c>-AccessKey</c>, <c>-ProfileName</c>, <c>-Credential</c>, <c>$StoredAWSCredentials</c>, ...).</summary>
public sealed class AwsSettingsRequest
{
    public string? AccessKey { get; init; }
    public string? SecretKey { get; init; }
    public string? SessionToken { get; init; }
    public string? ProfileName { get; init; }
    public string? ProfileLocation { get; init; }

    /// <summary><c>-Credential</c>: an <see cref="AwsCredentialKeys"/> or an <c>AWSCredentials</c> of any SDK copy (see <see cref="ForeignCredentials"/>).</summary>
    public object? Credential { get; init; }

    /// <summary><c>$StoredAWSCredentials</c>: a profile name (string), <see cref="AwsCredentialKeys"/>, AWS.Tools' <c>AWSPSCredentials</c> or an <c>AWSCredentials</c> of any SDK copy.</summary>
    public object? StoredCredentials { get; init; }

    public string? Region { get; init; }

    /// <summary><c>$StoredAWSRegion</c>.</summary>
    public string? StoredRegion { get; init; }

    /// <summary><c>-EndpointUrl</c> (tests, VPC endpoints).</summary>
    public string? EndpointUrl { get; init; }
}

/// <summary>Credentials and region ready for a client, with where each came from.</summary>
public sealed class ResolvedAwsSettings
{
    public ResolvedAwsSettings(AWSCredentials credentials, string region, string credentialSource, string regionSource, Uri? endpoint, string? endpointSource = null)
    {
        Credentials = credentials;
        Region = region;
        CredentialSource = credentialSource;
        RegionSource = regionSource;
        Endpoint = endpoint;
        EndpointSource = endpoint is null ? null : endpointSource ?? "explicit";
    }

    /// <summary>The SDK credentials object (engine-internal use; cmdlets never output it).</summary>
    public AWSCredentials Credentials { get; }

    public string Region { get; }

    /// <summary>E.g. "explicit -AccessKey/-SecretKey", "profile 'prod' (/home/u/.aws/credentials)", "environment variables", "instance role".</summary>
    public string CredentialSource { get; }

    public string RegionSource { get; }

    /// <summary>The SSM endpoint; null for the Region's public endpoint.</summary>
    public Uri? Endpoint { get; }

    /// <summary>Where <see cref="Endpoint"/> came from ("-EndpointUrl", "environment variable AWS_ENDPOINT_URL_SSM", ...).</summary>
    public string? EndpointSource { get; }

    /// <summary><c>use_fips_endpoint</c> of the profile used; null leaves it to the SDK (<c>AWS_USE_FIPS_ENDPOINT</c>, the default profile).</summary>
    public bool? UseFipsEndpoint { get; init; }

    /// <summary><c>use_dualstack_endpoint</c> of the profile used; null leaves it to the SDK.</summary>
    public bool? UseDualstackEndpoint { get; init; }

    /// <summary>A line for <c>WriteDebug</c>.</summary>
    public string Describe() =>
        "Credentials from " + CredentialSource + "; region '" + Region + "' from " + RegionSource +
        (Endpoint is null ? string.Empty : "; endpoint " + Endpoint + " from " + EndpointSource) +
        (UseFipsEndpoint == true ? "; FIPS endpoint" : string.Empty) + (UseDualstackEndpoint == true ? "; dual-stack endpoint" : string.Empty);

    /// <summary>
    /// Obtains the credentials once (a credential_process runs, an assume-role or SSO profile calls STS or SSO), so a
    /// profile that cannot give credentials fails here, before anything is sent to any node.
    /// </summary>
    public async System.Threading.Tasks.Task EnsureCredentialsAsync()
    {
        ImmutableCredentials? keys;
        try
        {
            keys = await Credentials.GetCredentialsAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not S3MountException)
        {
            throw new S3MountException(SsmErrorIds.SsmCredentialsMissing, S3MountErrorKind.SecurityError,
                "The credentials from " + CredentialSource + " could not be obtained: " + e.Message, CredentialSource, e);
        }

        if (keys is null || string.IsNullOrEmpty(keys.AccessKey))
        {
            throw new S3MountException(SsmErrorIds.SsmCredentialsMissing, S3MountErrorKind.SecurityError,
                "The credentials from " + CredentialSource + " gave no access key.", CredentialSource);
        }
    }

    /// <summary>Settings for tests and callers that already hold keys.</summary>
    public static ResolvedAwsSettings FromKeys(string accessKey, string secretKey, string region, Uri? endpoint = null, string? sessionToken = null) =>
        new(sessionToken is null ? new BasicAWSCredentials(accessKey, secretKey) : new SessionAWSCredentials(accessKey, secretKey, sessionToken),
            region, "explicit keys", "explicit", endpoint);
}

/// <summary>
/// Resolves credentials and region in the AWS.Tools for PowerShell order (see ssm.md):
/// credentials: explicit keys, named profile (unknown = error), -Credential, stored credentials, environment, default profile, instance role;
/// region: -Region, stored region, profile, environment, instance metadata;
/// endpoint: -EndpointUrl, then the AWS SDKs' environment variables AWS_ENDPOINT_URL_SSM and AWS_ENDPOINT_URL (both
/// ignored when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true), else the Region's public endpoint. The shared config
/// file's endpoint_url and services sections are not read.
/// </summary>
public sealed class AwsSettingsResolver
{
    private readonly Func<string, string?> _env;
    private readonly string? _defaultProfileLocation;
    private readonly Func<AWSCredentials?> _instanceRole;
    private readonly Func<string?> _instanceRegion;

    /// <param name="getEnvironmentVariable">Environment lookup (tests pass a dictionary); defaults to the process environment.</param>
    /// <param name="defaultProfileLocation">Where the default profile is read when no -ProfileLocation is given; null = the SDK's default files.</param>
    /// <param name="instanceRole">Instance-role credentials, or null when not on EC2; defaults to the SDK's IMDS credentials.</param>
    /// <param name="instanceRegion">The region from instance metadata, or null; defaults to the SDK's IMDS region.</param>
    public AwsSettingsResolver(Func<string, string?>? getEnvironmentVariable = null, string? defaultProfileLocation = null, Func<AWSCredentials?>? instanceRole = null, Func<string?>? instanceRegion = null)
    {
        _env = getEnvironmentVariable ?? Environment.GetEnvironmentVariable;
        _defaultProfileLocation = defaultProfileLocation;
        _instanceRole = instanceRole ?? DefaultInstanceRole;
        _instanceRegion = instanceRegion ?? DefaultInstanceRegion;
    }

    public ResolvedAwsSettings Resolve(AwsSettingsRequest request)
    {
        CredentialProfile? profile = null;
        string? profileWhere = null;
        AWSCredentials? creds = null;
        string? credSource = null;

        if (!string.IsNullOrEmpty(request.AccessKey) || !string.IsNullOrEmpty(request.SecretKey))
        {
            if (string.IsNullOrEmpty(request.AccessKey) || string.IsNullOrEmpty(request.SecretKey))
            {
                throw new S3MountException(SsmErrorIds.SsmCredentialsMissing, S3MountErrorKind.InvalidArgument,
                    "-AccessKey and -SecretKey must be given together.", "AccessKey");
            }

            creds = FromObject(new AwsCredentialKeys(request.AccessKey!, request.SecretKey!, NullIfEmpty(request.SessionToken)), "-AccessKey");
            credSource = "explicit -AccessKey/-SecretKey";
        }

        if (!string.IsNullOrEmpty(request.ProfileName))
        {
            // A named profile is looked up even when keys were given, so its region still applies.
            var store = new CredentialProfileStoreChain(NullIfEmpty(request.ProfileLocation));
            if (!store.TryGetProfile(request.ProfileName, out profile))
            {
                throw new S3MountException(SsmErrorIds.SsmProfileNotFound, S3MountErrorKind.ObjectNotFound,
                    "The profile '" + request.ProfileName + "' was not found" + (string.IsNullOrEmpty(request.ProfileLocation) ? " in the shared credentials and config files." : " in '" + request.ProfileLocation + "'.") +
                    " Check -ProfileName and -ProfileLocation (aws configure list-profiles lists them).", request.ProfileName);
            }

            profileWhere = "profile '" + request.ProfileName + "'" + (string.IsNullOrEmpty(request.ProfileLocation) ? string.Empty : " (" + request.ProfileLocation + ")");
            if (creds is null)
            {
                if (!store.TryGetAWSCredentials(request.ProfileName, out var pc))
                {
                    throw new S3MountException(SsmErrorIds.SsmCredentialsMissing, S3MountErrorKind.InvalidArgument,
                        "The " + profileWhere + " holds no usable credentials.", request.ProfileName);
                }

                creds = pc;
                credSource = profileWhere;
            }
        }

        if (creds is null && request.Credential is not null)
        {
            creds = FromObject(request.Credential, "-Credential");
            credSource = "-Credential";
        }

        if (creds is null && request.StoredCredentials is not null)
        {
            if (request.StoredCredentials is string storedProfile)
            {
                var store = new CredentialProfileStoreChain(NullIfEmpty(request.ProfileLocation));
                if (!store.TryGetProfile(storedProfile, out var sp) || !store.TryGetAWSCredentials(storedProfile, out var spc))
                {
                    throw new S3MountException(SsmErrorIds.SsmProfileNotFound, S3MountErrorKind.ObjectNotFound,
                        "The profile '" + storedProfile + "' named by $StoredAWSCredentials was not found.", storedProfile);
                }

                profile ??= sp;
                creds = spc;
                credSource = "$StoredAWSCredentials (profile '" + storedProfile + "')";
            }
            else
            {
                creds = FromObject(request.StoredCredentials, "$StoredAWSCredentials");
                credSource = "$StoredAWSCredentials";
            }
        }

        if (creds is null)
        {
            var ak = NullIfEmpty(_env("AWS_ACCESS_KEY_ID")) ?? NullIfEmpty(_env("AWS_ACCESS_KEY"));
            var sk = NullIfEmpty(_env("AWS_SECRET_ACCESS_KEY")) ?? NullIfEmpty(_env("AWS_SECRET_KEY"));
            if (ak is not null && sk is not null)
            {
                creds = FromObject(new AwsCredentialKeys(ak, sk, NullIfEmpty(_env("AWS_SESSION_TOKEN"))), "the environment");
                credSource = "environment variables (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)";
            }
        }

        // The default profile (AWS_PROFILE or "default") gives credentials when nothing above did, and a region.
        CredentialProfile? defaultProfile = null;
        var defaultName = NullIfEmpty(_env("AWS_PROFILE")) ?? "default";
        if (profile is null)
        {
            var store = new CredentialProfileStoreChain(_defaultProfileLocation);
            if (store.TryGetProfile(defaultName, out defaultProfile) && creds is null && store.TryGetAWSCredentials(defaultName, out var dc))
            {
                creds = dc;
                credSource = "default profile '" + defaultName + "'";
            }
        }

        if (creds is null)
        {
            creds = _instanceRole();
            credSource = creds is null ? null : "instance role (EC2 instance metadata)";
        }

        if (creds is null)
        {
            throw new S3MountException(SsmErrorIds.SsmCredentialsMissing, S3MountErrorKind.SecurityError,
                "No AWS credentials were found. Pass -AccessKey/-SecretKey, -ProfileName or -Credential, run Set-AWSCredential, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.", null);
        }

        string? region = null;
        string? regionSource = null;
        if (!string.IsNullOrEmpty(request.Region))
        {
            region = request.Region;
            regionSource = "-Region";
        }
        else if (!string.IsNullOrEmpty(request.StoredRegion))
        {
            region = request.StoredRegion;
            regionSource = "$StoredAWSRegion";
        }
        else if (profile?.Region is not null)
        {
            region = profile.Region.SystemName;
            regionSource = profileWhere ?? ("profile '" + profile.Name + "'");
        }
        else if (defaultProfile?.Region is not null)
        {
            region = defaultProfile.Region.SystemName;
            regionSource = "default profile '" + defaultName + "'";
        }
        else if (NullIfEmpty(_env("AWS_REGION")) is string er)
        {
            region = er;
            regionSource = "environment variable AWS_REGION";
        }
        else if (NullIfEmpty(_env("AWS_DEFAULT_REGION")) is string edr)
        {
            region = edr;
            regionSource = "environment variable AWS_DEFAULT_REGION";
        }
        else if (_instanceRegion() is string ir)
        {
            region = ir;
            regionSource = "instance metadata";
        }

        if (region is null)
        {
            throw new S3MountException(SsmErrorIds.SsmRegionMissing, S3MountErrorKind.InvalidArgument,
                "No AWS region was found. Pass -Region, run Set-DefaultAWSRegion, set region in the profile or set AWS_REGION.", null);
        }

        var (endpointUrl, endpointSource) = ConfiguredEndpoint("SSM", request.EndpointUrl, _env);
        Uri? endpoint = null;
        if (endpointUrl is not null)
        {
            if (!Uri.TryCreate(endpointUrl, UriKind.Absolute, out endpoint) || (endpoint.Scheme != "https" && endpoint.Scheme != "http"))
            {
                throw new S3MountException(SsmErrorIds.SsmEndpointInvalid, S3MountErrorKind.InvalidArgument,
                    endpointSource + " must be an absolute http or https URL.", endpointUrl);
            }
        }

        var endpointProfile = profile ?? defaultProfile;
        return new ResolvedAwsSettings(creds, region, credSource!, regionSource!, endpoint, endpointSource)
        {
            UseFipsEndpoint = endpointProfile?.UseFIPSEndpoint,
            UseDualstackEndpoint = endpointProfile?.UseDualstackEndpoint,
        };
    }

    /// <summary>
    /// A service's endpoint as the AWS SDKs configure one ("service-specific endpoints"): the explicit one, else
    /// AWS_ENDPOINT_URL_<paramref name="service"/>, else AWS_ENDPOINT_URL, unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true.
    /// </summary>
    internal static (string? Url, string? Source) ConfiguredEndpoint(string service, string? explicitUrl, Func<string, string?> env)
    {
        if (!string.IsNullOrEmpty(explicitUrl))
        {
            return (explicitUrl, "-EndpointUrl");
        }

        if (string.Equals(env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), "true", StringComparison.OrdinalIgnoreCase))
        {
            return (null, null);
        }

        foreach (var name in new[] { "AWS_ENDPOINT_URL_" + service, "AWS_ENDPOINT_URL" })
        {
            if (NullIfEmpty(env(name)) is string url)
            {
                return (url, "environment variable " + name);
            }
        }

        return (null, null);
    }

    private static AWSCredentials FromObject(object o, string what) => ForeignCredentials.From(o, what);

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    private AWSCredentials? DefaultInstanceRole()
    {
        if (IsMetadataDisabled())
        {
            return null;
        }

        try
        {
            var c = new InstanceProfileAWSCredentials();
            c.GetCredentials();
            return c;
        }
        catch (Exception)
        {
            return null;
        }
    }

    private string? DefaultInstanceRegion()
    {
        if (IsMetadataDisabled())
        {
            return null;
        }

        try
        {
            return new InstanceProfileAWSRegion().Region?.SystemName;
        }
        catch (Exception)
        {
            return null;
        }
    }

    private bool IsMetadataDisabled() => string.Equals(_env("AWS_EC2_METADATA_DISABLED"), "true", StringComparison.OrdinalIgnoreCase);
}
