// Config of image signature verification (`mbio-cloud:imageSignatures`): which images are the platform's own
// (the repository the image pipeline pushes to) and the cosign public key their signatures must verify with.
// The public key is not a secret; the private key is the CI variable COSIGN_PRIVATE_KEY (docs/security.md).
import { z } from "zod";

// What `cosign generate-key-pair` writes to cosign.pub: one PEM "PUBLIC KEY" block.
const PUBLIC_KEY = /^-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\s*$/;
// A registry host (optionally with a port) and at least one path segment, e.g. registry.gitlab.com/mbio/mbio-cloud.
const REPOSITORY = /^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)+$/;

export const imageSignaturesSchema = z.strictObject({
  publicKey: z
    .string({ message: "must be the cosign public key (PEM, the content of cosign.pub): pulumi config set --path mbio-cloud:imageSignatures.publicKey -- \"$(cat cosign.pub)\"" })
    .regex(PUBLIC_KEY, { message: "must be the cosign public key in PEM (-----BEGIN PUBLIC KEY----- … -----END PUBLIC KEY-----), the content of cosign.pub" }),
  repository: z
    .string({ message: "must be the registry path the image pipeline pushes the platform's images to (CI_REGISTRY_IMAGE), e.g. registry.gitlab.com/mbio/mbio-cloud" })
    .regex(REPOSITORY, { message: "must be a registry path such as registry.gitlab.com/mbio/mbio-cloud (host[:port]/path, no tag): every pinned image under it must carry a valid signature" }),
});
export type ImageSignaturesConfig = z.infer<typeof imageSignaturesSchema>;
